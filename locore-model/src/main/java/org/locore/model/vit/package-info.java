/**
 * Local feature extraction networks: the DINOv2 ViT-B/14 with registers ({@link
 * org.locore.model.vit.Dinov2Vit}, shaped by {@link org.locore.model.vit.VitConfig}, its position table resized by
 * {@link org.locore.model.vit.PositionTable}) and the AMES detector ({@link org.locore.model.vit.AmesDetector},
 * results in {@link org.locore.model.vit.DetectorOutput}). Both run eagerly on ND4J arrays by default (the ViT
 * through {@code VitExecutor} with SIMD row kernels from the JDK's Vector API when the JVM runs with
 * {@code --add-modules jdk.incubator.vector}, scalar Java otherwise) and keep their SameDiff graphs as the
 * reference ({@link org.locore.model.vit.VitForwardPath}). Both load the official PyTorch state dicts (read with
 * {@link org.locore.model.io.TorchCheckpoint}) by their tensor names. Instances serialise their forward passes;
 * give each thread its own for parallelism.
 */
package org.locore.model.vit;
