package org.locore.model.locore;

/** How {@link LocoreModel#forward(LocoreInputs, ForwardPath)} computes an inference forward pass. */
public enum ForwardPath {
    /** Eager ND4J execution on the parameter arrays (fused projections, banded attention); the default. */
    EAGER,
    /** Eager execution with full n x n attention under the same masks (benchmark comparison only: O(n^2) memory). */
    EAGER_DENSE,
    /** The SameDiff graph that also defines training and gradients. */
    GRAPH
}
