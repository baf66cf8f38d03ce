package org.locore.model.longformer;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The Longformer encoder as a SameDiff graph, fed with input embeddings: embeddings
 * ({@code LayerNorm(x + position[p] + token_type[0])}, positions {@code p = padTokenId + 1, ...}), then post-norm
 * layers of {@link BandedAttention}, output projection + LayerNorm residual, exact-GELU FFN + LayerNorm residual.
 * Parameters are named as in HF's {@code LongformerModel} state dict under a prefix.
 */
public final class LongformerEncoder {
    private LongformerEncoder() {
    }

    private static final String[] ATTENTION = {"query", "key", "value", "query_global", "key_global", "value_global"};

    /**
     * The parameters of the embeddings (without word embeddings) and the first {@code layers} layers, in HF
     * order, with their shapes ({@code [out, in]} weights).
     */
    public static Map<String, long[]> parameterShapes(LongformerConfig c, int layers, String prefix) {
        long e = c.hiddenSize();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(prefix + "embeddings.position_embeddings.weight", new long[]{c.maxPositions(), e});
        m.put(prefix + "embeddings.token_type_embeddings.weight", new long[]{c.typeVocabSize(), e});
        m.put(prefix + "embeddings.LayerNorm.weight", new long[]{e});
        m.put(prefix + "embeddings.LayerNorm.bias", new long[]{e});
        for (int l = 0; l < layers; l++) {
            String p = prefix + "encoder.layer." + l + ".";
            for (String a : ATTENTION) {
                m.put(p + "attention.self." + a + ".weight", new long[]{e, e});
                m.put(p + "attention.self." + a + ".bias", new long[]{e});
            }
            m.put(p + "attention.output.dense.weight", new long[]{e, e});
            m.put(p + "attention.output.dense.bias", new long[]{e});
            m.put(p + "attention.output.LayerNorm.weight", new long[]{e});
            m.put(p + "attention.output.LayerNorm.bias", new long[]{e});
            m.put(p + "intermediate.dense.weight", new long[]{c.intermediateSize(), e});
            m.put(p + "intermediate.dense.bias", new long[]{c.intermediateSize()});
            m.put(p + "output.dense.weight", new long[]{e, c.intermediateSize()});
            m.put(p + "output.dense.bias", new long[]{e});
            m.put(p + "output.LayerNorm.weight", new long[]{e});
            m.put(p + "output.LayerNorm.bias", new long[]{e});
        }
        return m;
    }

    /**
     * Emits the encoder.
     *
     * @param c            configuration
     * @param layers       layers to run (the first ones)
     * @param prefix       parameter-name prefix (e.g. {@code language_model.longformer.})
     * @param param        the graph variable of a parameter by full name
     * @param inputsEmbeds {@code [B, n, E]}
     * @param masks        per layer: the mask inputs (its window's masks)
     * @param geometry     per layer: the masks whose sizes the graph is built for
     * @param dropout      dropout sites (inactive at inference)
     * @param dtype        floating type of the graph
     * @return the last hidden state {@code [B, n, E]}
     */
    public static SDVariable build(LongformerConfig c, int layers, String prefix, Function<String, SDVariable> param,
                                   SDVariable inputsEmbeds, List<BandedAttention.MaskVariables> masks,
                                   List<BandedAttention.Masks> geometry, DropoutMasks dropout, DataType dtype) {
        SameDiff sd = inputsEmbeds.getSameDiff();
        long b = geometry.get(0).batch();
        long n = geometry.get(0).length();
        long e = c.hiddenSize();
        if (c.firstPosition() + n > c.maxPositions()) {
            throw new IllegalArgumentException("sequence of " + n + " tokens needs positions up to "
                    + (c.firstPosition() + n - 1) + " but the table has " + c.maxPositions() + " rows");
        }
        double eps = c.layerNormEps();
        String emb = prefix + "embeddings.";
        SDVariable pos = sd.slice(param.apply(emb + "position_embeddings.weight"),
                new int[]{c.firstPosition(), 0}, (int) n, (int) e);
        SDVariable type = sd.slice(param.apply(emb + "token_type_embeddings.weight"), new int[]{0, 0}, 1, (int) e);
        SDVariable x = inputsEmbeds.add(pos).add(type).reshape(b * n, e);
        x = GraphOps.layerNorm(x, 2, param.apply(emb + "LayerNorm.weight"), param.apply(emb + "LayerNorm.bias"), eps);
        x = dropout.apply(x, "embeddings", c.hiddenDropout(), b * n, e);
        for (int l = 0; l < layers; l++) {
            String p = prefix + "encoder.layer." + l + ".";
            String s = p + "attention.self.";
            BandedAttention.Weights w = new BandedAttention.Weights(
                    param.apply(s + "query.weight"), param.apply(s + "query.bias"),
                    param.apply(s + "key.weight"), param.apply(s + "key.bias"),
                    param.apply(s + "value.weight"), param.apply(s + "value.bias"),
                    param.apply(s + "query_global.weight"), param.apply(s + "query_global.bias"),
                    param.apply(s + "key_global.weight"), param.apply(s + "key_global.bias"),
                    param.apply(s + "value_global.weight"), param.apply(s + "value_global.bias"));
            final int layer = l;
            SDVariable a = BandedAttention.apply(x.reshape(b, n, e), w, masks.get(l), geometry.get(l),
                    c.numHeads(), c.hiddenSize(), dtype,
                    (probs, name, shape) -> dropout.apply(probs, "layer" + layer + "/" + name, c.attentionDropout(), shape))
                    .reshape(b * n, e);
            a = GraphOps.linear(a, param.apply(p + "attention.output.dense.weight"),
                    param.apply(p + "attention.output.dense.bias"));
            a = dropout.apply(a, "layer" + l + "/attention_output", c.hiddenDropout(), b * n, e);
            x = GraphOps.layerNorm(a.add(x), 2, param.apply(p + "attention.output.LayerNorm.weight"),
                    param.apply(p + "attention.output.LayerNorm.bias"), eps);
            SDVariable f = GraphOps.gelu(GraphOps.linear(x, param.apply(p + "intermediate.dense.weight"),
                    param.apply(p + "intermediate.dense.bias")));
            f = GraphOps.linear(f, param.apply(p + "output.dense.weight"), param.apply(p + "output.dense.bias"));
            f = dropout.apply(f, "layer" + l + "/output", c.hiddenDropout(), b * n, e);
            x = GraphOps.layerNorm(f.add(x), 2, param.apply(p + "output.LayerNorm.weight"),
                    param.apply(p + "output.LayerNorm.bias"), eps);
        }
        return x.reshape(b, n, e);
    }
}
