package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity with {@code locore/locore_thin_real.*}: the real sequence geometry (D = 48, K = 100, 5050 tokens padded
 * to 5120, window 512, 150 global tokens) on a thin one-layer encoder.
 */
class LocoreThinRealTest {
    @Test
    void forwardMatchesReference() throws IOException {
        LocoreModelTest.checkForward("locore/locore_thin_real");
    }

    /**
     * The backward graph at the real geometry: the loss and the classifier-bias gradient follow from the reference
     * logits alone (token cross-entropy over gallery tokens: dL/db = mean over labelled tokens of softmax - onehot).
     */
    @Test
    void lossAndClassifierGradientAtRealGeometry() throws IOException {
        String name = "locore/locore_thin_real";
        LocoreModel m = LocoreModelTest.model(name);
        LocoreInputs in = LocoreInputs.read(Fixtures.path(name + ".inputs.safetensors"));
        Tensor logits = LocoreModelTest.expected(name).get("logits");
        float[] z = logits.toFloatArray();
        long[] positive = in.positiveMask().reshape(-1).toLongVector();
        SequenceLayout layout = new SequenceLayout(48, 100, 512, true);
        double loss = 0;
        double[] gb = new double[2];
        int count = 0;
        for (int img = 1; img <= 100; img++) {
            int label = (int) positive[img - 1];
            for (int p = layout.globalPosition(img); p <= layout.sepPosition(img); p++) {
                double a = z[2 * p], b = z[2 * p + 1];
                double mx = Math.max(a, b);
                double lse = mx + Math.log(Math.exp(a - mx) + Math.exp(b - mx));
                loss -= (label == 1 ? b : a) - lse;
                gb[0] += Math.exp(a - lse) - (label == 0 ? 1 : 0);
                gb[1] += Math.exp(b - lse) - (label == 1 ? 1 : 0);
                count++;
            }
        }
        assertEquals(5000, count);
        loss /= count;
        LocoreModel.Gradients g = m.gradients(in);
        assertEquals(loss, g.loss(), 1e-4 * Math.abs(loss), "loss");
        INDArray bias = g.gradients().get(LocoreModel.CLASSIFIER_BIAS);
        for (int c = 0; c < 2; c++) {
            double expected = gb[c] / count;
            assertEquals(expected, bias.getDouble(c), 1e-3 * Math.abs(expected) + 1e-6, "classifier bias gradient " + c);
        }
        for (INDArray gr : g.gradients().values()) {
            assertTrue(Double.isFinite(gr.sumNumber().doubleValue()));
        }
    }
}
