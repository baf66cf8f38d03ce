/**
 * The Longformer encoder on SameDiff: {@link org.locore.model.longformer.LongformerConfig} (HF config.json),
 * {@link org.locore.model.longformer.BandedAttention} (sliding-window + global attention as a composite op with
 * O(n w) memory), {@link org.locore.model.longformer.LongformerEncoder} (embeddings and post-norm layers),
 * {@link org.locore.model.longformer.GraphOps} (primitives with working gradients in DL4J 1.0.0-M2.1) and
 * {@link org.locore.model.longformer.DropoutMasks} (dropout with masks fed as placeholders), and
 * {@link org.locore.model.longformer.LongformerExecutor} (the same inference computation run eagerly on ND4J
 * arrays: fused projections, banded attention as parallel (head, block) jobs, element-wise steps in the row
 * kernels of {@link org.locore.model.rowops}; a dense-attention variant for comparison).
 */
package org.locore.model.longformer;
