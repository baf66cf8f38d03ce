package org.locore.model.vit;

import org.locore.model.rowops.RowOps;
import org.locore.model.rowops.ScalarRowOps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The eager ViT path ({@link VitExecutor}) against the SameDiff graph on random weights with a non-trivial
 * geometry: odd patch grids (resized position table), several heads of a width that is not a multiple of the SIMD
 * width, with and without registers and layer scale, every attention schedule (several row blocks with a partial
 * last one, serial or parallel jobs) and both row-kernel implementations; float32, within 1e-4.
 */
class VitExecutorTest {
    /** width 72 = 3 heads of 24, MLP 200, 3 blocks, 3 registers, a 5 x 5 position grid. */
    static final VitConfig WITH_REGISTERS = new VitConfig(72, 3, 3, 3, 14, 5, 200, true, 1e-6);
    /** width 80 = 5 heads of 16, no registers, no layer scale. */
    static final VitConfig PLAIN = new VitConfig(80, 2, 5, 0, 14, 4, 176, false, 1e-6);

    @ParameterizedTest(name = "{0} grid {1}x{2}, chunk {3}, parallel {4}, vector {5}")
    @CsvSource({
            "registers, 7, 9, 16, true, true",
            "registers, 7, 9, 16, false, true",
            "registers, 9, 5, 1000, true, true",
            "registers, 7, 9, 13, true, false",
            "plain, 3, 11, 8, true, true",
            "plain, 3, 11, 40, false, false",
    })
    void eagerMatchesGraph(String model, int gh, int gw, int chunk, boolean parallel, boolean vector) {
        if (vector) {
            org.junit.jupiter.api.Assumptions.assumeTrue(RowOps.VECTOR_API, "jdk.incubator.vector not enabled");
        }
        VitConfig cfg = model.equals("plain") ? PLAIN : WITH_REGISTERS;
        Dinov2Vit vit = Dinov2Vit.random(cfg, 7);
        vit.useExecutor(vector ? RowOps.best() : new ScalarRowOps(), new VitExecutor.Options(chunk, parallel));
        Nd4j.getRandom().setSeed(11);
        INDArray image = Nd4j.randn(DataType.FLOAT, 1, 3, 14L * gh, 14L * gw);
        Dinov2Vit.Output graph = vit.forward(image, VitForwardPath.GRAPH);
        for (int run = 0; run < 2; run++) { // the second run reuses the executor's buffers
            Dinov2Vit.Output eager = vit.forward(image, VitForwardPath.EAGER);
            assertEquals(gh, eager.gridH());
            assertEquals(gw, eager.gridW());
            assertEquals((long) gh * gw, eager.patchTokens().size(1));
            Fixtures.assertClose(graph.cls(), eager.cls(), 1e-4, "cls, run " + run);
            Fixtures.assertClose(graph.patchTokens(), eager.patchTokens(), 1e-4, "patch tokens, run " + run);
        }
        // a different image size after the first: the buffers are reallocated
        INDArray other = Nd4j.randn(DataType.FLOAT, 1, 3, 14L * (gh + 2), 14L * gw);
        Fixtures.assertClose(vit.forward(other, VitForwardPath.GRAPH).patchTokens(),
                vit.forward(other).patchTokens(), 1e-4, "patch tokens after a size change");
    }

    @Test
    void tokensDependOnTheImage() {
        // guards the comparison above against a degenerate network (e.g. all tokens equal)
        Dinov2Vit vit = Dinov2Vit.random(WITH_REGISTERS, 7);
        Nd4j.getRandom().setSeed(12);
        Dinov2Vit.Output a = vit.forward(Nd4j.randn(DataType.FLOAT, 1, 3, 14 * 3, 14 * 5));
        Dinov2Vit.Output b = vit.forward(Nd4j.randn(DataType.FLOAT, 1, 3, 14 * 3, 14 * 5));
        INDArray pa = a.patchTokens().reshape(15, 72);
        double spread = pa.getRow(0).sub(pa.getRow(1)).norm2Number().doubleValue();
        double change = pa.sub(b.patchTokens().reshape(15, 72)).norm2Number().doubleValue();
        org.junit.jupiter.api.Assertions.assertTrue(spread > 0.1 && change > 0.1, "spread " + spread + ", change " + change);
    }
}
