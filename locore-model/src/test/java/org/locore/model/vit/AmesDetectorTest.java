package org.locore.model.vit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity of the AMES detector with the reference on the reference patch tokens of every case: descriptors,
 * weights, top-20 (ids, weights, descriptors), global and CLS global descriptors within 1e-4 (eager path; the
 * SameDiff graph on two cases and against the eager path on random weights); and the whole chain ViT -> detector
 * on one case.
 */
class AmesDetectorTest {
    static final int TOPK = 20;
    static AmesDetector detector;

    @BeforeAll
    static void load() throws IOException {
        detector = AmesDetector.fromStateDict(VitFixtures.stateDict(VitFixtures.detectorCheckpoint()),
                VitFixtures.detectorCheckpoint());
    }

    @ParameterizedTest
    @ValueSource(strings = {"wide_png", "tall_png", "wide_png_query", "tall_png_query"})
    void matchesReferenceOnReferenceTokens(String c) throws IOException {
        INDArray tokens = VitFixtures.expected("vit/" + c + "/patch_tokens").toINDArray();
        DetectorOutput out = detector.detect(tokens);
        assertMatches(c, out);
        float[] clsGlobal = AmesDetector.clsGlobal(VitFixtures.expected("vit/" + c + "/cls").toINDArray());
        Fixtures.assertClose(VitFixtures.expected("det/" + c + "/cls_global").toFloatArray(), clsGlobal, 1e-4,
                c + " cls_global");
    }

    @ParameterizedTest
    @ValueSource(strings = {"wide_png", "tall_png_query"})
    void graphPathMatchesReference(String c) throws IOException {
        INDArray tokens = VitFixtures.expected("vit/" + c + "/patch_tokens").toINDArray();
        assertMatches(c, detector.detect(tokens, VitForwardPath.GRAPH));
    }

    @Test
    void eagerMatchesGraphOnRandomWeights() {
        AmesDetector det = AmesDetector.random(40, 5);
        org.nd4j.linalg.factory.Nd4j.getRandom().setSeed(9);
        INDArray tokens = org.nd4j.linalg.factory.Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 37, 40).muli(3);
        DetectorOutput eager = det.detect(tokens);
        DetectorOutput graph = det.detect(tokens, VitForwardPath.GRAPH);
        Fixtures.assertClose(graph.descriptors(), eager.descriptors(), 1e-5, "descriptors");
        Fixtures.assertClose(graph.weights(), eager.weights(), 1e-5, "weights");
        assertTrue(eager.weights()[0] != eager.weights()[1], "weights depend on the token");
    }

    @Test
    void vitThenDetectorMatchesReference() throws IOException {
        Map<String, Tensor> sd = VitFixtures.stateDict(VitFixtures.vitCheckpoint());
        Dinov2Vit vit = Dinov2Vit.fromStateDict(sd, VitConfig.infer(sd, VitFixtures.vitCheckpoint(), VitFixtures.TINY_HEADS),
                VitFixtures.vitCheckpoint());
        String c = "tall_png_query";
        Dinov2Vit.Output v = vit.forward(VitFixtures.input(c));
        assertMatches(c, detector.detect(v.patchTokens()));
        Fixtures.assertClose(VitFixtures.expected("det/" + c + "/cls_global").toFloatArray(),
                AmesDetector.clsGlobal(v.cls()), 1e-4, c + " cls_global");
    }

    @Test
    void missingOrMisshapenTensorNamesTheFileAndTensor() throws IOException {
        Map<String, Tensor> sd = new HashMap<>(VitFixtures.stateDict(VitFixtures.detectorCheckpoint()));
        sd.remove("bn.running_var");
        FormatException e = assertThrows(FormatException.class,
                () -> AmesDetector.fromStateDict(sd, VitFixtures.detectorCheckpoint()));
        assertTrue(e.getMessage().contains("detector_tiny.pt") && e.getMessage().contains("bn.running_var"), e.getMessage());
        sd.put("bn.running_var", Tensor.ofFloats("bn.running_var", new long[]{3}, new float[3]));
        e = assertThrows(FormatException.class, () -> AmesDetector.fromStateDict(sd, VitFixtures.detectorCheckpoint()));
        assertTrue(e.getMessage().contains("shape [3]"), e.getMessage());
    }

    static void assertMatches(String c, DetectorOutput out) throws IOException {
        String p = "det/" + c + "/";
        Fixtures.assertClose(VitFixtures.expected(p + "descriptors").toINDArray().reshape(out.descriptors().shape()),
                out.descriptors(), 1e-4, c + " descriptors");
        float[] weights = out.weights();
        Fixtures.assertClose(VitFixtures.expected(p + "weights").toFloatArray(), weights, 1e-4, c + " weights");

        DetectorOutput.TopK top = out.topK(TOPK);
        long[] expIds = VitFixtures.expected(p + "topk_ids").toLongArray();
        float[] expW = VitFixtures.expected(p + "topk_weights").toFloatArray();
        assertEquals(expIds.length, top.ids().length, c + " top-k count");
        for (int i = 0; i < expIds.length; i++) {
            if (top.ids()[i] != expIds[i]) {
                double tie = Math.abs(weights[top.ids()[i]] - weights[(int) expIds[i]]);
                assertTrue(tie <= 1e-6, c + " top-k rank " + i + ": id " + top.ids()[i] + " instead of " + expIds[i]
                        + " (weights differ by " + tie + ")");
            }
        }
        Fixtures.assertClose(expW, top.weights(), 1e-4, c + " top-k weights");
        INDArray expD = VitFixtures.expected(p + "topk_descriptors").toINDArray();
        Fixtures.assertClose(expD.reshape(top.descriptors().shape()), top.descriptors(), 1e-4, c + " top-k descriptors");
        Fixtures.assertClose(VitFixtures.expected(p + "global").toFloatArray(), out.globalDescriptor(), 1e-4, c + " global");
    }
}
