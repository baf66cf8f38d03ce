package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LOCORE options on the tiny fixture: kept layers, query global attention off, dropout while training. */
class LocoreModelOptionsTest {
    static final String CASE = "locore/locore_tiny_a";

    private static LocoreModel model(LocoreConfig cfg) throws IOException {
        return LocoreModel.load(Fixtures.path(CASE + ".weights.safetensors"), cfg);
    }

    private static LocoreInputs inputs() throws IOException {
        return LocoreInputs.read(Fixtures.path(CASE + ".inputs.safetensors"));
    }

    @Test
    void keptLayersOnlyAndTheirGradients() throws IOException {
        LocoreConfig full = LocoreConfig.read(Fixtures.path(CASE + ".json"));
        LocoreModel small = model(full.withLayersKept(1));
        LocoreModel.Gradients g = small.gradients(inputs());
        for (Map.Entry<String, INDArray> e : g.gradients().entrySet()) {
            double max = e.getValue().amaxNumber().doubleValue();
            if (e.getKey().contains(".layer.1.")) {
                assertEquals(0.0, max, 0.0, e.getKey() + " is not used with one layer");
            } else if (e.getKey().endsWith("query.weight") || e.getKey().endsWith("intermediate.dense.weight")) {
                assertTrue(max > 0, e.getKey() + " must receive a gradient");
            }
        }
        INDArray one = small.forward(inputs()).logits();
        INDArray two = model(full).forward(inputs()).logits();
        assertTrue(one.sub(two).amaxNumber().doubleValue() > 1e-3, "one layer must differ from two");
    }

    @Test
    void queryGlobalAttentionOff() throws IOException {
        LocoreConfig full = LocoreConfig.read(Fixtures.path(CASE + ".json"));
        LocoreConfig off = new LocoreConfig(full.longformer(), full.descriptors(), full.gallerySize(), false,
                full.layersKept());
        LocoreModel.Output o = model(off).forward(inputs());
        for (int[] row : o.globalAttentionMask()) {
            assertEquals(8, Arrays.stream(row).sum(), "only the 8 SEP tokens are global");
        }
        INDArray on = model(full).forward(inputs()).logits();
        assertTrue(o.logits().sub(on).amaxNumber().doubleValue() > 1e-3);
    }

    @Test
    void dropoutIsReproducibleAndActive() throws IOException {
        LocoreModel m = model(LocoreConfig.read(Fixtures.path(CASE + ".json")));
        double plain = m.gradients(inputs()).loss();
        LocoreModel.Gradients a = m.gradients(inputs(), new Random(5));
        LocoreModel.Gradients b = m.gradients(inputs(), new Random(5));
        LocoreModel.Gradients c = m.gradients(inputs(), new Random(6));
        assertEquals(a.loss(), b.loss(), 0.0, "same masks, same loss");
        assertNotEquals(plain, a.loss(), "dropout changes the loss");
        assertNotEquals(a.loss(), c.loss(), "new masks, new loss");
        for (INDArray gr : a.gradients().values()) {
            assertTrue(Double.isFinite(gr.sumNumber().doubleValue()));
        }
        // inference stays deterministic and dropout-free after training passes
        Fixtures.assertClose(m.forward(inputs()).logits(), m.forward(inputs()).logits(), 0.0, "logits");
    }
}
