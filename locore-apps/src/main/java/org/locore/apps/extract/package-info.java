/**
 * The {@code extract} stage: {@link org.locore.apps.extract.Extractor} wires image preparation
 * ({@code org.locore.data.image.ImagePreprocessor}), the DINOv2 ViT and the AMES detector
 * ({@code org.locore.model.vit}) into the rows of a local features file and two global descriptors;
 * {@link org.locore.apps.extract.ExtractionJob} writes a whole image list in resumable parts and stitches them into
 * AMES's files; {@link org.locore.apps.extract.Extract} is the {@code bin/locore extract} command.
 */
package org.locore.apps.extract;
