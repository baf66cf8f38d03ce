package org.locore.model.locore;

/** How {@link LocoreModel#gradients(LocoreInputs, java.util.Random, GradientPath)} computes loss and gradients. */
public enum GradientPath {
    /**
     * Eager forward and hand-written backward on the parameter arrays with per-layer recomputation
     * ({@link org.locore.model.longformer.LongformerBackprop}); the default: bounded memory, no graph.
     */
    EAGER,
    /** SameDiff's {@code calculateGradients} on the training graph (what the DL4J UI's graph view shows). */
    GRAPH
}
