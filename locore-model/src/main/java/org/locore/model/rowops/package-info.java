/**
 * The eager executors' element-wise kernels ({@link org.locore.model.rowops.RowOps}: softmax exponentials,
 * LayerNorm, bias + exact GELU, residuals, on rows copied out of native ND4J buffers), in SIMD through the JDK's
 * Vector API ({@link org.locore.model.rowops.VectorRowOps}, when the JVM runs with
 * {@code --add-modules jdk.incubator.vector}) or plain Java ({@link org.locore.model.rowops.ScalarRowOps}), and the
 * Java threads that run them and the attention jobs ({@link org.locore.model.rowops.Workers}), and GEMMs on
 * sub-matrices of native arrays read in place ({@link org.locore.model.rowops.StridedGemm}: one head's columns of a
 * fused projection, one block of rows). Used by the ViT's and the Longformer's eager passes.
 */
package org.locore.model.rowops;
