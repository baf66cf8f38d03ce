package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.locore.model.longformer.LongformerConfig;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eager inference path ({@link ForwardPath#EAGER}, the default of {@link LocoreModel#forward(LocoreInputs)})
 * and its dense-attention variant give the SameDiff graph's values within 1e-4: on the tiny fixture (batch 2,
 * padding descriptors), with query global attention off, with layers of different windows, and at the real
 * geometry (5120 tokens, window 512, 150 global slots) of the thin fixture. Parity of the default path with the
 * reference itself is checked by {@code LocoreModelTest} and {@code LocoreThinRealTest}.
 */
class EagerForwardTest {
    private static void assertSame(LocoreModel m, LocoreInputs in, ForwardPath path, String what) {
        LocoreModel.Output graph = m.forward(in, ForwardPath.GRAPH);
        LocoreModel.Output eager = m.forward(in, path);
        Fixtures.assertClose(graph.inputsEmbeds(), eager.inputsEmbeds(), 1e-6, what + " inputs_embeds");
        Fixtures.assertClose(graph.lastHiddenState(), eager.lastHiddenState(), 1e-4, what + " last_hidden_state");
        Fixtures.assertClose(graph.logits(), eager.logits(), 1e-4, what + " logits");
        // the comparison must not be vacuous: the logits vary across tokens
        double spread = eager.logits().maxNumber().doubleValue() - eager.logits().minNumber().doubleValue();
        assertTrue(spread > 1e-3, what + ": logits spread " + spread);
    }

    @Test
    void tinyFixtureEagerAndDenseEqualTheGraph() throws IOException {
        LocoreModel m = LocoreModelTest.model(LocoreModelTest.CASE);
        LocoreInputs in = LocoreInputs.read(Fixtures.path(LocoreModelTest.CASE + ".inputs.safetensors"));
        assertSame(m, in, ForwardPath.EAGER, "eager");
        assertSame(m, in, ForwardPath.EAGER_DENSE, "dense");
    }

    @Test
    void queryGlobalAttentionOffAndMixedWindows() throws IOException {
        LocoreConfig full = LocoreConfig.read(Fixtures.path(LocoreModelTest.CASE + ".json"));
        LongformerConfig l = full.longformer();
        LongformerConfig mixed = new LongformerConfig(l.hiddenSize(), l.numLayers(), l.numHeads(),
                l.intermediateSize(), List.of(16, 8), l.maxPositions(), l.layerNormEps(), l.hiddenDropout(),
                l.attentionDropout(), l.padTokenId(), l.typeVocabSize());
        LocoreConfig cfg = new LocoreConfig(mixed, full.descriptors(), full.gallerySize(), false, full.layersKept());
        LocoreModel m = LocoreModel.load(Fixtures.path(LocoreModelTest.CASE + ".weights.safetensors"), cfg);
        LocoreInputs in = LocoreInputs.read(Fixtures.path(LocoreModelTest.CASE + ".inputs.safetensors"));
        assertSame(m, in, ForwardPath.EAGER, "eager, windows 16/8, query not global");
        assertSame(m, in, ForwardPath.EAGER_DENSE, "dense, windows 16/8, query not global");
    }

    @Test
    void realGeometryEqualsTheGraph() throws IOException {
        String name = "locore/locore_thin_real";
        LocoreModel m = LocoreModelTest.model(name);
        LocoreInputs in = LocoreInputs.read(Fixtures.path(name + ".inputs.safetensors"));
        assertSame(m, in, ForwardPath.EAGER, "eager, thin real");
    }

    @Test
    void seesInPlaceParameterUpdates() throws IOException {
        LocoreModel m = LocoreModelTest.model(LocoreModelTest.CASE);
        LocoreInputs in = LocoreInputs.read(Fixtures.path(LocoreModelTest.CASE + ".inputs.safetensors"));
        INDArray before = m.forward(in).logits();
        m.parameters().get(LocoreModel.ENCODER_PREFIX + "encoder.layer.0.attention.self.key_global.weight")
                .addi(Nd4j.randn(DataType.FLOAT, 32, 32).muli(0.5));
        INDArray after = m.forward(in).logits();
        assertTrue(before.sub(after).amaxNumber().doubleValue() > 1e-4, "update of key_global must change logits");
        assertSame(m, in, ForwardPath.EAGER, "after update");
    }
}
