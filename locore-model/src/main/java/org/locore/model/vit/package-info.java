/**
 * Local feature extraction networks in SameDiff: the DINOv2 ViT-B/14 with registers ({@link
 * org.locore.model.vit.Dinov2Vit}, shaped by {@link org.locore.model.vit.VitConfig}, its position table resized by
 * {@link org.locore.model.vit.PositionTable}) and the AMES detector ({@link org.locore.model.vit.AmesDetector},
 * results in {@link org.locore.model.vit.DetectorOutput}). Both load the official PyTorch state dicts (read with
 * {@link org.locore.model.io.TorchCheckpoint}) by their tensor names. Instances are not thread-safe: give each
 * thread its own.
 */
package org.locore.model.vit;
