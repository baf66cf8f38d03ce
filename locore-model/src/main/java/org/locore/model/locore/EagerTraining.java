package org.locore.model.locore;

import org.locore.model.longformer.DropoutBits;
import org.locore.model.longformer.LongformerBackprop;
import org.locore.model.longformer.LongformerConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * {@link LocoreModel#gradients} without SameDiff: the input embedding (as {@link EagerForward}),
 * {@link LongformerBackprop} for the encoder, the classifier with its dropout and the loss of the training graph
 * ({@code -sum(labels * logSoftmax(logits))}, the labels one-hot over the gallery tokens divided by their count),
 * then the backward through all of them into one gradient array per parameter (zero for parameters the kept
 * layers do not use). Dropout masks come from the generator in the graph's site order, so both paths give the same
 * gradients for the same generator state.
 */
final class EagerTraining {
    private EagerTraining() {
    }

    /** The encoder's training pass over the model's parameters. */
    static LongformerBackprop encoder(LocoreConfig config, Map<String, INDArray> params,
                                      LongformerBackprop.Checkpointing checkpointing) {
        return new LongformerBackprop(config.longformer(), config.layersKept(), LocoreModel.ENCODER_PREFIX,
                params::get, checkpointing);
    }

    /**
     * Loss, gradients and max-end scores of one batch.
     *
     * @param encoder    {@link #encoder} of the same parameters
     * @param dropoutRng the dropout generator, or null
     */
    static LocoreModel.Gradients run(LocoreConfig config, Map<String, INDArray> params, int numScales,
                                     SequenceLayout layout, SequenceLayout.Encoded enc, Random dropoutRng,
                                     LongformerBackprop encoder) {
        LongformerConfig c = config.longformer();
        DataType dt = params.get(LocoreModel.CLASSIFIER_WEIGHT).dataType();
        int b = enc.batch();
        long n = layout.paddedLength();
        long e = c.hiddenSize();
        long bn = b * n;
        Map<String, INDArray> grads = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> p : params.entrySet()) {
            grads.put(p.getKey(), Nd4j.zeros(p.getValue().dataType(), p.getValue().shape()));
        }

        INDArray embeds = EagerForward.inputsEmbeds(params, numScales, enc, n, e, dt);
        INDArray hidden = encoder.forward(embeds.reshape(b, n, e), enc.attention(), enc.global(),
                layout.globalSlots(), dropoutRng).reshape(bn, e);
        free(embeds);
        // as HF LongformerForTokenClassification: dropout (hidden_dropout_prob) before the classifier
        DropoutBits classifierDrop = dropoutRng != null && c.hiddenDropout() > 0
                ? DropoutBits.draw(dropoutRng, bn * e, c.hiddenDropout()) : null;
        INDArray mask = classifierDrop == null ? null : classifierDrop.array(0, dt, bn, e);
        if (mask != null) {
            hidden.muli(mask);
        }
        INDArray wc = params.get(LocoreModel.CLASSIFIER_WEIGHT);
        INDArray logits = Nd4j.create(dt, bn, 2);
        Nd4j.gemm(hidden, wc, logits, false, true, 1.0, 0.0);
        logits.addiRowVector(params.get(LocoreModel.CLASSIFIER_BIAS));

        // loss = -sum(labels * (z - log sum exp z)), z = logits - rowmax
        INDArray labels = EagerForward.cast(Nd4j.createFromArray(enc.labels()).reshape('c', bn, 2), dt);
        INDArray z = logits.subColumnVector(logits.max(true, 1));
        INDArray lse = Transforms.log(Transforms.exp(z, true).sum(true, 1), false);
        INDArray logp = z.subiColumnVector(lse);
        double loss = -labels.mul(logp).sumNumber().doubleValue();
        // dloss/dlogits = softmax(logits) * rowsum(labels) - labels
        INDArray dLogits = Transforms.exp(logp, true).muliColumnVector(labels.sum(true, 1)).subi(labels);

        INDArray scores = Nd4j.create(DataType.FLOAT, b, layout.gallerySize());
        int d = layout.descriptors();
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < layout.gallerySize(); i++) {
                scores.putScalar(r, i, logits.getDouble(r * n + layout.localPosition(i + 1, d - 1), 1));
            }
        }

        Nd4j.gemm(dLogits, hidden, grads.get(LocoreModel.CLASSIFIER_WEIGHT), true, false, 1.0, 1.0);
        grads.get(LocoreModel.CLASSIFIER_BIAS).addi(dLogits.sum(0));
        INDArray dHidden = Nd4j.create(dt, bn, e);
        Nd4j.gemm(dLogits, wc, dHidden, false, false, 1.0, 0.0);
        if (mask != null) {
            dHidden.muli(mask);
        }
        free(hidden, mask, logits, z, lse, dLogits, labels);

        INDArray dEmbeds = encoder.backward(dHidden.reshape(b, n, e), grads::get).reshape(bn, e);
        free(dHidden);
        INDArray scales = EagerForward.cast(Nd4j.createFromArray(enc.scaleOneHot()).reshape('c', bn, numScales), dt);
        Nd4j.gemm(scales, dEmbeds, grads.get(LocoreModel.SCALE_EMBEDDING), true, false, 1.0, 1.0);
        INDArray sep = EagerForward.cast(Nd4j.createFromArray(enc.sep()).reshape('c', bn, 1), dt);
        INDArray pad = EagerForward.cast(Nd4j.createFromArray(enc.pad()).reshape('c', bn, 1), dt);
        INDArray dSep = Nd4j.create(dt, 1, e);
        Nd4j.gemm(sep, dEmbeds, dSep, true, false, 1.0, 0.0);
        grads.get(LocoreModel.SEP_EMBEDDING).addi(dSep.reshape(e));
        INDArray dPad = Nd4j.create(dt, 1, e);
        Nd4j.gemm(pad, dEmbeds, dPad, true, false, 1.0, 0.0);
        grads.get(LocoreModel.PAD_EMBEDDING).addi(dPad.reshape(e));
        free(scales, sep, pad, dSep, dPad, dEmbeds);
        return new LocoreModel.Gradients(loss, grads, scores);
    }

    private static void free(INDArray... arrays) {
        for (INDArray a : arrays) {
            if (a != null && a.closeable()) a.close();
        }
    }
}
