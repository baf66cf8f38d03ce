package org.locore.model.locore;

import com.fasterxml.jackson.databind.JsonNode;
import org.locore.model.io.FormatException;
import org.locore.model.longformer.LongformerConfig;

import java.io.IOException;
import java.nio.file.Path;

/**
 * LOCORE options around the Longformer: sequence geometry and attention pattern.
 *
 * @param longformer           the encoder configuration
 * @param descriptors          local descriptors per image D (48 in the released recipe)
 * @param gallerySize          gallery images per sequence K (100)
 * @param queryGlobalAttention whether every query token attends globally (true), besides every SEP
 * @param layersKept           encoder layers used (all for LOCORE-base, 6 for LOCORE-small)
 */
public record LocoreConfig(LongformerConfig longformer, int descriptors, int gallerySize,
                           boolean queryGlobalAttention, int layersKept) {

    /** Validates the sizes. */
    public LocoreConfig {
        if (descriptors <= 0 || gallerySize <= 0) {
            throw new IllegalArgumentException("descriptors and gallery size must be positive");
        }
        if (layersKept <= 0 || layersKept > longformer.numLayers()) {
            throw new IllegalArgumentException("layersKept " + layersKept + " not in 1.." + longformer.numLayers());
        }
    }

    /** The released recipe (D = 48, K = 100, query tokens global, all layers) around an encoder config. */
    public static LocoreConfig of(LongformerConfig longformer) {
        return new LocoreConfig(longformer, 48, 100, true, longformer.numLayers());
    }

    /** This configuration keeping only the first {@code layers} encoder layers (LOCORE-small: 6). */
    public LocoreConfig withLayersKept(int layers) {
        return new LocoreConfig(longformer, descriptors, gallerySize, queryGlobalAttention, layers);
    }

    /** This configuration with another sequence geometry. */
    public LocoreConfig withSizes(int d, int k) {
        return new LocoreConfig(longformer, d, k, queryGlobalAttention, layersKept);
    }

    /** The sequence layout of this configuration. */
    public SequenceLayout layout() {
        return new SequenceLayout(descriptors, gallerySize, longformer.maxAttentionWindow(), queryGlobalAttention);
    }

    /**
     * Reads a JSON file holding a Longformer config (directly or under {@code config}) and optionally the
     * LOCORE keys {@code d}, {@code k}, {@code query_global_attention}, {@code layers_kept}; absent keys take the
     * released defaults.
     */
    public static LocoreConfig read(Path file) throws IOException {
        JsonNode root = LongformerConfig.readJson(file);
        LongformerConfig lf = LongformerConfig.fromJson(root, file);
        int d = root.path("d").asInt(48);
        int k = root.path("k").asInt(100);
        boolean qg = root.path("query_global_attention").asBoolean(true);
        int kept = root.path("layers_kept").asInt(lf.numLayers());
        try {
            return new LocoreConfig(lf, d, k, qg, kept);
        } catch (IllegalArgumentException e) {
            throw new FormatException(file, e.getMessage());
        }
    }
}
