package org.locore.model.vit;

/** How {@link Dinov2Vit#forward(org.nd4j.linalg.api.ndarray.INDArray, VitForwardPath)} computes the tokens. */
public enum VitForwardPath {
    /** Eager ND4J GEMMs with fused row kernels ({@link VitExecutor}); the default. */
    EAGER,
    /** The SameDiff graph (the reference; slower). */
    GRAPH
}
