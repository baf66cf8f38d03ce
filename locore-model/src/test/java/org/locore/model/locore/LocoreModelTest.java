package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parity of the whole re-ranker with the reference fixtures {@code locore/locore_tiny_a.*}. */
class LocoreModelTest {
    static final String CASE = "locore/locore_tiny_a";

    static LocoreModel model(String name) throws IOException {
        LocoreConfig cfg = LocoreConfig.read(Fixtures.path(name + ".json"));
        return LocoreModel.load(Fixtures.path(name + ".weights.safetensors"), cfg);
    }

    static Map<String, Tensor> expected(String name) throws IOException {
        return Safetensors.readAll(Fixtures.path(name + ".expected.safetensors"));
    }

    static void assertMask(Tensor expected, int[][] actual, String what) {
        long[] e = expected.toLongArray();
        int n = actual[0].length;
        assertEquals(e.length, actual.length * n, what + " size");
        for (int r = 0; r < actual.length; r++) {
            for (int j = 0; j < n; j++) {
                assertEquals(e[r * n + j], actual[r][j], what + " at [" + r + ", " + j + "]");
            }
        }
    }

    /** Checks the forward outputs of a fixture case against the expected tensors. */
    static void checkForward(String name) throws IOException {
        LocoreModel m = model(name);
        LocoreInputs in = LocoreInputs.read(Fixtures.path(name + ".inputs.safetensors"));
        Map<String, Tensor> exp = expected(name);
        LocoreModel.Output out = m.forward(in);
        Fixtures.assertClose(exp.get("inputs_embeds").toINDArray(), out.inputsEmbeds(), 1e-6, "inputs_embeds");
        assertMask(exp.get("attention_mask"), out.attentionMask(), "attention_mask");
        assertMask(exp.get("global_attention_mask"), out.globalAttentionMask(), "global_attention_mask");
        Fixtures.assertClose(exp.get("last_hidden_state").toINDArray(), out.lastHiddenState(), 1e-4, "last_hidden_state");
        Fixtures.assertClose(exp.get("logits").toINDArray(), out.logits(), 1e-4, "logits");
        Fixtures.assertClose(exp.get("score_max_end").toINDArray(), out.scores(ScoreMode.MAX_END), 1e-4, "score_max_end");
        Fixtures.assertClose(exp.get("score_max_start").toINDArray(), out.scores(ScoreMode.MAX_START), 1e-4, "score_max_start");
        Fixtures.assertClose(exp.get("score_max_sum").toINDArray(), out.scores(ScoreMode.MAX_SUM), 1e-4, "score_max_sum");
    }

    @Test
    void forwardMatchesReference() throws IOException {
        checkForward(CASE);
    }

    @Test
    void lossAndGradientsMatchReferenceEager() throws IOException {
        checkGradients(GradientPath.EAGER);
    }

    @Test
    void lossAndGradientsMatchReferenceGraph() throws IOException {
        checkGradients(GradientPath.GRAPH);
    }

    private static void checkGradients(GradientPath path) throws IOException {
        LocoreModel m = model(CASE);
        LocoreInputs in = LocoreInputs.read(Fixtures.path(CASE + ".inputs.safetensors"));
        Map<String, Tensor> exp = expected(CASE);
        LocoreModel.Gradients g = m.gradients(in, null, path);
        double refLoss = exp.get("loss").toDoubleArray()[0];
        assertEquals(refLoss, g.loss(), 1e-3 * Math.abs(refLoss), "loss");
        int checked = 0;
        for (String name : m.parameters().keySet()) {
            Tensor t = exp.get("grad/" + name);
            assertTrue(t != null, "fixture has no gradient for " + name);
            INDArray ref = t.toINDArray(DataType.DOUBLE);
            INDArray got = g.gradients().get(name).castTo(DataType.DOUBLE);
            assertArrayEquals(ref.shape(), got.shape(), name);
            double scale = ref.amaxNumber().doubleValue();
            double diff = ref.sub(got).amaxNumber().doubleValue();
            // 1e-3 relative to the tensor's largest gradient; gradients that are zero in exact arithmetic (key
            // biases: softmax is shift-invariant; padding: never attended) are float32 round-off in the
            // reference (~1e-8), so they are compared with an absolute floor of 1e-7 (the loss is of order 1)
            double tol = 1e-3 * scale + 1e-7;
            assertTrue(diff <= tol, name + ": max |diff| " + diff + " > " + tol + " (max |ref| " + scale + ")");
            checked++;
        }
        assertEquals(m.parameters().size(), checked);
    }
}
