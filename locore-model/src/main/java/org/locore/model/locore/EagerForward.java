package org.locore.model.locore;

import org.locore.model.longformer.LongformerConfig;
import org.locore.model.longformer.LongformerExecutor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Map;

/**
 * The inference forward pass of {@link LocoreModel} without SameDiff: the graph's input embedding
 * ({@code features + scaleOneHot x scaleEmbedding + sep x SEP + pad x PAD}), {@link LongformerExecutor} and the
 * classifier, on the model's live parameter arrays. Gives the graph's values (tested to 1e-4 on the fixtures).
 */
final class EagerForward {
    private EagerForward() {
    }

    /**
     * @param exec the encoder's executor (on {@code params}, {@code config.layersKept()} layers; it may keep its
     *             working arrays between calls)
     */
    static LocoreModel.Output run(LocoreConfig config, Map<String, INDArray> params, int numScales,
                                  SequenceLayout layout, SequenceLayout.Encoded enc, LongformerExecutor exec) {
        LongformerConfig c = config.longformer();
        long b = enc.batch();
        long n = layout.paddedLength();
        long e = c.hiddenSize();
        long bn = b * n;
        INDArray embeds = inputsEmbeds(params, numScales, enc, n, e, DataType.FLOAT);
        INDArray inputsEmbeds = embeds.reshape(b, n, e);
        INDArray hidden = exec.run(inputsEmbeds, enc.attention(), enc.global(), layout.globalSlots());
        INDArray logits = Nd4j.create(DataType.FLOAT, bn, 2);
        Nd4j.gemm(hidden.reshape(bn, e), params.get(LocoreModel.CLASSIFIER_WEIGHT), logits, false, true, 1.0, 0.0);
        logits.addiRowVector(params.get(LocoreModel.CLASSIFIER_BIAS));
        int t = layout.tokens();
        INDArray h = hidden.get(NDArrayIndex.all(), NDArrayIndex.interval(0, t), NDArrayIndex.all()).dup();
        INDArray lg = logits.reshape(b, n, 2).get(NDArrayIndex.all(), NDArrayIndex.interval(0, t),
                NDArrayIndex.all()).dup();
        for (INDArray a : new INDArray[]{hidden, logits}) {
            if (a.closeable()) a.close();
        }
        return new LocoreModel.Output(layout, inputsEmbeds, enc.attention(), enc.global(), h, lg);
    }

    /**
     * The graph's input embedding {@code features + scaleOneHot x scaleEmbedding + sep x SEP + pad x PAD},
     * {@code [B n, E]} of the given type.
     */
    static INDArray inputsEmbeds(Map<String, INDArray> params, int numScales, SequenceLayout.Encoded enc, long n,
                                 long e, DataType dt) {
        long bn = enc.batch() * n;
        if (dt == DataType.FLOAT) {
            return inputsEmbedsFloat(params, numScales, enc, Math.toIntExact(bn), Math.toIntExact(e));
        }
        INDArray embeds = cast(Nd4j.createFromArray(enc.features()).reshape('c', bn, e), dt);
        INDArray scales = cast(Nd4j.createFromArray(enc.scaleOneHot()).reshape('c', bn, numScales), dt);
        embeds.addi(scales.mmul(params.get(LocoreModel.SCALE_EMBEDDING)));
        // outer products with a one-column indicator: each element is exactly indicator * vector
        embeds.addi(cast(Nd4j.createFromArray(enc.sep()).reshape('c', bn, 1), dt)
                .mmul(params.get(LocoreModel.SEP_EMBEDDING).reshape(1, e)));
        embeds.addi(cast(Nd4j.createFromArray(enc.pad()).reshape('c', bn, 1), dt)
                .mmul(params.get(LocoreModel.PAD_EMBEDDING).reshape(1, e)));
        if (scales.closeable()) scales.close();
        return embeds;
    }

    /**
     * {@link #inputsEmbeds} in float32 by Java loops over the encoded arrays (no ND4J temporaries of the sequence's
     * size): per token {@code ((features + sum_s onehot_s scale_s) + sep SEP) + pad PAD}, the graph's additions in the
     * graph's order, so the values are the same.
     */
    private static INDArray inputsEmbedsFloat(Map<String, INDArray> params, int numScales, SequenceLayout.Encoded enc,
                                              int bn, int e) {
        float[] out = enc.features().clone();
        float[] scaleEmb = params.get(LocoreModel.SCALE_EMBEDDING).castTo(DataType.FLOAT).dup('c').data().asFloat();
        float[] sepEmb = params.get(LocoreModel.SEP_EMBEDDING).castTo(DataType.FLOAT).dup('c').data().asFloat();
        float[] padEmb = params.get(LocoreModel.PAD_EMBEDDING).castTo(DataType.FLOAT).dup('c').data().asFloat();
        float[] oneHot = enc.scaleOneHot();
        float[] sep = enc.sep();
        float[] pad = enc.pad();
        float[] term = new float[e];
        for (int i = 0; i < bn; i++) {
            int row = i * e;
            java.util.Arrays.fill(term, 0f);
            boolean any = false;
            for (int s = 0; s < numScales; s++) {
                float v = oneHot[i * numScales + s];
                if (v != 0f) {
                    any = true;
                    for (int k = 0; k < e; k++) {
                        term[k] += v * scaleEmb[s * e + k];
                    }
                }
            }
            if (any) {
                for (int k = 0; k < e; k++) {
                    out[row + k] += term[k];
                }
            }
            addScaled(out, row, sep[i], sepEmb, e);
            addScaled(out, row, pad[i], padEmb, e);
        }
        return Nd4j.createFromArray(out).reshape('c', bn, e);
    }

    private static void addScaled(float[] out, int row, float indicator, float[] vector, int e) {
        if (indicator != 0f) {
            for (int k = 0; k < e; k++) {
                out[row + k] += indicator * vector[k];
            }
        }
    }

    /** {@code a} as type {@code dt} (itself when it has that type). */
    static INDArray cast(INDArray a, DataType dt) {
        return a.dataType() == dt ? a : a.castTo(dt);
    }
}
