package org.locore.model.vit;

import org.locore.model.rowops.ScalarRowOps;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Parity of the DINOv2 ViT with the reference forward (fixture {@code dinov2_tiny}): CLS and patch tokens for two
 * enlarged-grid cases and two shrunk-grid (antialiased position table) query cases, within 1e-4, on the default
 * eager path and on the SameDiff graph.
 */
class Dinov2VitTest {
    static Dinov2Vit vit;

    @BeforeAll
    static void load() throws IOException {
        Map<String, Tensor> sd = VitFixtures.stateDict(VitFixtures.vitCheckpoint());
        vit = Dinov2Vit.fromStateDict(sd, VitConfig.infer(sd, VitFixtures.vitCheckpoint(), VitFixtures.TINY_HEADS),
                VitFixtures.vitCheckpoint());
    }

    @Test
    void configInferredFromShapes() throws IOException {
        Map<String, Tensor> sd = VitFixtures.stateDict(VitFixtures.vitCheckpoint());
        assertEquals(new VitConfig(64, 2, 4, 4, 14, 37, 256, true, 1e-6),
                VitConfig.infer(sd, VitFixtures.vitCheckpoint(), 4));
        assertEquals(1, VitConfig.infer(sd, VitFixtures.vitCheckpoint()).heads(), "default: 64-dimensional heads");
    }

    @Test
    void missingOrMisshapenTensorsAreFormatErrorsNamingFileAndTensor() throws IOException {
        Map<String, Tensor> sd = new java.util.HashMap<>(VitFixtures.stateDict(VitFixtures.vitCheckpoint()));
        VitConfig cfg = VitConfig.infer(sd, VitFixtures.vitCheckpoint(), VitFixtures.TINY_HEADS);
        Tensor qkv = sd.remove("blocks.1.attn.qkv.weight");
        org.locore.model.io.FormatException e = org.junit.jupiter.api.Assertions.assertThrows(
                org.locore.model.io.FormatException.class,
                () -> Dinov2Vit.fromStateDict(sd, cfg, VitFixtures.vitCheckpoint()));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("dinov2_tiny.pth")
                && e.getMessage().contains("blocks.1.attn.qkv.weight"), e.getMessage());
        sd.put("blocks.1.attn.qkv.weight", qkv);
        sd.put("pos_embed", Tensor.ofFloats("pos_embed", new long[]{1, 1 + 36 * 37, 64}, new float[(1 + 36 * 37) * 64]));
        e = org.junit.jupiter.api.Assertions.assertThrows(org.locore.model.io.FormatException.class,
                () -> Dinov2Vit.fromStateDict(sd, cfg, VitFixtures.vitCheckpoint()));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("pos_embed")
                && e.getMessage().contains("[1, 1333, 64]"), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(org.locore.model.io.FormatException.class,
                () -> VitConfig.infer(sd, VitFixtures.vitCheckpoint(), 4));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("not a square grid"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"wide_png", "tall_png", "wide_png_query", "tall_png_query"})
    void matchesReference(String c) throws IOException {
        assertMatchesReference(c, vit.forward(VitFixtures.input(c)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"wide_png", "tall_png_query"})
    void graphPathMatchesReference(String c) throws IOException {
        assertMatchesReference(c, vit.forward(VitFixtures.input(c), VitForwardPath.GRAPH));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tall_png", "wide_png_query"})
    void scalarKernelsMatchReference(String c) throws IOException {
        vit.useExecutor(new ScalarRowOps(), new VitExecutor.Options(64, false));
        try {
            assertMatchesReference(c, vit.forward(VitFixtures.input(c)));
        } finally {
            vit.useExecutor(null, null);
        }
    }

    private static void assertMatchesReference(String c, Dinov2Vit.Output out) throws IOException {
        INDArray expPatch = VitFixtures.expected("vit/" + c + "/patch_tokens").toINDArray();
        assertEquals(expPatch.size(1), (long) out.gridH() * out.gridW(), "patch count");
        Fixtures.assertClose(VitFixtures.expected("vit/" + c + "/cls").toINDArray(), out.cls(), 1e-4, c + " cls");
        Fixtures.assertClose(expPatch, out.patchTokens(), 1e-4, c + " patch tokens");
    }
}
