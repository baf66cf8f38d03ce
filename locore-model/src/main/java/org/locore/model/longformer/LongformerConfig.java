package org.locore.model.longformer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.locore.model.io.FormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The Longformer encoder hyper-parameters, as in a HuggingFace Longformer {@code config.json}.
 *
 * @param hiddenSize       hidden width E
 * @param numLayers        encoder layers
 * @param numHeads         attention heads (E divisible by it)
 * @param intermediateSize FFN width
 * @param attentionWindow  the (two-sided, even) attention window of every layer
 * @param maxPositions     rows of the position table
 * @param layerNormEps     LayerNorm epsilon
 * @param hiddenDropout    dropout probability on hidden states (training only)
 * @param attentionDropout dropout probability on attention probabilities (training only)
 * @param padTokenId       HF padding index; positions start at {@code padTokenId + 1}
 * @param typeVocabSize    rows of the token-type table
 */
public record LongformerConfig(int hiddenSize, int numLayers, int numHeads, int intermediateSize,
                               List<Integer> attentionWindow, int maxPositions, double layerNormEps,
                               double hiddenDropout, double attentionDropout, int padTokenId, int typeVocabSize) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Validates and freezes the window list. */
    public LongformerConfig {
        attentionWindow = Collections.unmodifiableList(new ArrayList<>(attentionWindow));
        if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || intermediateSize <= 0 || maxPositions <= 0) {
            throw new IllegalArgumentException("sizes must be positive");
        }
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
        }
        if (attentionWindow.size() != numLayers) {
            throw new IllegalArgumentException(attentionWindow.size() + " attention windows for " + numLayers + " layers");
        }
        for (int w : attentionWindow) {
            if (w <= 0 || w % 2 != 0) {
                throw new IllegalArgumentException("attention_window values must be positive and even: " + w);
            }
        }
    }

    /** Longformer-base geometry as LOCORE uses it (5122 positions, window 512, 12 layers of width 768). */
    public static LongformerConfig base() {
        return new LongformerConfig(768, 12, 12, 3072, Collections.nCopies(12, 512), 5122, 1e-5, 0.1, 0.1, 1, 1);
    }

    /** Size of one attention head. */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** The two-sided attention window of a layer. */
    public int attentionWindow(int layer) {
        return attentionWindow.get(layer);
    }

    /** The one-sided window {@code attention_window[layer] / 2}. */
    public int oneSidedWindow(int layer) {
        return attentionWindow.get(layer) / 2;
    }

    /** The largest attention window: sequences are padded to a multiple of it. */
    public int maxAttentionWindow() {
        return Collections.max(attentionWindow);
    }

    /** First position index (HF: {@code padding_idx + 1}). */
    public int firstPosition() {
        return padTokenId + 1;
    }

    /**
     * Reads a HF Longformer {@code config.json}, or a JSON object whose {@code config} key holds one.
     *
     * @throws FormatException naming the file and the missing or invalid key
     */
    public static LongformerConfig read(Path file) throws IOException {
        return fromJson(readJson(file), file);
    }

    /** Parses a JSON configuration file, reporting a missing file or invalid JSON as a {@link FormatException}. */
    public static JsonNode readJson(Path file) throws IOException {
        try {
            return JSON.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new FormatException(file, "not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** Parses a config object (or an object with a {@code config} key); {@code file} names it in errors. */
    public static LongformerConfig fromJson(JsonNode root, Path file) throws FormatException {
        if (root == null || !root.isObject()) {
            throw new FormatException(file, "not a JSON object");
        }
        JsonNode c = root.has("config") && root.get("config").isObject() ? root.get("config") : root;
        int hidden = intKey(c, "hidden_size", null, file);
        int layers = intKey(c, "num_hidden_layers", null, file);
        int heads = intKey(c, "num_attention_heads", null, file);
        int inter = intKey(c, "intermediate_size", 4 * hidden, file);
        int maxPos = intKey(c, "max_position_embeddings", null, file);
        JsonNode aw = c.get("attention_window");
        if (aw == null) {
            throw new FormatException(file, "missing key 'attention_window'");
        }
        List<Integer> windows = new ArrayList<>();
        if (aw.isIntegralNumber()) {
            windows.addAll(Collections.nCopies(layers, aw.asInt()));
        } else if (aw.isArray()) {
            for (JsonNode v : aw) {
                if (!v.isIntegralNumber()) {
                    throw new FormatException(file, "attention_window entry " + v + " is not an integer");
                }
                windows.add(v.asInt());
            }
        } else {
            throw new FormatException(file, "attention_window must be an integer or a list of integers, not " + aw);
        }
        double eps = doubleKey(c, "layer_norm_eps", 1e-5, file);
        double hd = doubleKey(c, "hidden_dropout_prob", 0.1, file);
        double ad = doubleKey(c, "attention_probs_dropout_prob", 0.1, file);
        int pad = intKey(c, "pad_token_id", 1, file);
        int types = intKey(c, "type_vocab_size", 1, file);
        try {
            return new LongformerConfig(hidden, layers, heads, inter, windows, maxPos, eps, hd, ad, pad, types);
        } catch (IllegalArgumentException e) {
            throw new FormatException(file, e.getMessage());
        }
    }

    private static int intKey(JsonNode c, String key, Integer dflt, Path file) throws FormatException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            if (dflt == null) throw new FormatException(file, "missing key '" + key + "'");
            return dflt;
        }
        if (!v.isIntegralNumber()) {
            throw new FormatException(file, "'" + key + "' must be an integer, not " + v);
        }
        return v.asInt();
    }

    private static double doubleKey(JsonNode c, String key, double dflt, Path file) throws FormatException {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) {
            throw new FormatException(file, "'" + key + "' must be a number, not " + v);
        }
        return v.asDouble();
    }
}
