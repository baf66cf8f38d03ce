package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.locore.model.longformer.LongformerBackprop;
import org.locore.model.longformer.LongformerConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eager training pass ({@link GradientPath#EAGER}) against SameDiff's gradients of the training graph
 * ({@link GradientPath#GRAPH}), both in float64 on small random models: several windows (per-layer lists, windows
 * that do not divide the padded length), query global attention on and off, padding descriptors, odd lengths,
 * batches, kept layers, dropout with the same generator. Loss and every gradient tensor agree to 1e-8 relative to
 * the tensor's largest gradient (plus an absolute 1e-12 of the largest gradient overall, for tensors that are zero
 * in exact arithmetic, e.g. the key biases); the generator ends in the same state on both paths.
 */
class EagerGradientsTest {
    private static final double REL = 1e-8;

    private record Case(int hidden, int heads, int ffn, List<Integer> windows, int kept, int d, int k, int batch,
                        boolean queryGlobal, double hiddenDropout, double attentionDropout) {
    }

    private static LocoreModel model(Case cs, long seed) {
        LongformerConfig lf = new LongformerConfig(cs.hidden(), cs.windows().size(), cs.heads(), cs.ffn(),
                cs.windows(), 300, 1e-5, cs.hiddenDropout(), cs.attentionDropout(), 1, 1);
        LocoreConfig cfg = new LocoreConfig(lf, cs.d(), cs.k(), cs.queryGlobal(), cs.kept());
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : LocoreModel.expectedShapes(lf).entrySet()) {
            long[] shape = e.getValue().clone();
            if (shape[0] < 0) shape[0] = 3;
            INDArray a = Nd4j.randn(DataType.DOUBLE, shape);
            String name = e.getKey();
            if (name.endsWith("LayerNorm.weight")) a.muli(0.2).addi(1.0);
            else if (name.endsWith(".bias")) a.muli(0.1);
            else a.muli(0.4);
            params.put(name, a);
        }
        return LocoreModel.create(cfg, params, DataType.DOUBLE);
    }

    private static LocoreInputs inputs(Case cs, long seed) {
        Random r = new Random(seed);
        int b = cs.batch(), d = cs.d(), k = cs.k(), e = cs.hidden();
        Nd4j.getRandom().setSeed(seed);
        long[] qs = new long[b * d], qm = new long[b * d], gs = new long[b * k * d], gm = new long[b * k * d];
        long[] pos = new long[b * k];
        for (int i = 0; i < qs.length; i++) {
            qs[i] = r.nextInt(3);
            qm[i] = r.nextInt(5) == 0 ? 1 : 0;
        }
        for (int i = 0; i < gs.length; i++) {
            gs[i] = r.nextInt(3);
            gm[i] = r.nextInt(4) == 0 ? 1 : 0;
        }
        for (int i = 0; i < pos.length; i++) pos[i] = r.nextInt(2);
        return new LocoreInputs(Nd4j.randn(DataType.FLOAT, b, d, e), Nd4j.createFromArray(qs).reshape(b, d),
                Nd4j.createFromArray(qm).reshape(b, d), Nd4j.randn(DataType.FLOAT, b, 1, e),
                Nd4j.randn(DataType.FLOAT, b, k, d, e), Nd4j.createFromArray(gs).reshape(b, k, d),
                Nd4j.createFromArray(gm).reshape(b, k, d), Nd4j.randn(DataType.FLOAT, b, k, 1, e),
                Nd4j.createFromArray(pos).reshape(b, k));
    }

    private static void check(Case cs, long seed, Long dropoutSeed) {
        LocoreModel m = model(cs, seed);
        LocoreInputs in = inputs(cs, seed + 1);
        Random rg = dropoutSeed == null ? null : new Random(dropoutSeed);
        Random re = dropoutSeed == null ? null : new Random(dropoutSeed);
        LocoreModel.Gradients graph = m.gradients(in, rg, GradientPath.GRAPH);
        for (LongformerBackprop.Checkpointing mode : LongformerBackprop.Checkpointing.values()) {
            Random rm = dropoutSeed == null ? null : new Random(dropoutSeed);
            compare(cs + " " + mode, graph, m.gradients(in, rm, mode));
            if (rm != null) {
                assertNotEquals(new Random(dropoutSeed).nextLong(), rm.nextLong(), "the generator was used");
            }
        }
        LocoreModel.Gradients eager = m.gradients(in, re, GradientPath.EAGER);
        compare(cs + " default", graph, eager);
        if (rg != null) {
            assertEquals(rg.nextLong(), re.nextLong(), "both paths leave the generator in the same state");
        }
    }

    private static void compare(String what, LocoreModel.Gradients graph, LocoreModel.Gradients eager) {
        assertEquals(graph.loss(), eager.loss(), 1e-10 * Math.abs(graph.loss()), what + ": loss");
        // the max-end scores are stored as float32
        double scoreScale = Math.max(1e-3, graph.scores().amaxNumber().doubleValue());
        double scoreDiff = graph.scores().sub(eager.scores()).amaxNumber().doubleValue();
        assertTrue(scoreDiff <= 1e-6 * scoreScale, what + ": scores differ by " + scoreDiff);
        double overall = 0;
        for (INDArray g : graph.gradients().values()) overall = Math.max(overall, g.amaxNumber().doubleValue());
        assertTrue(overall > 0, what + ": some gradient is non-zero");
        assertEquals(graph.gradients().keySet(), eager.gradients().keySet(), what + ": gradient names");
        for (Map.Entry<String, INDArray> e : graph.gradients().entrySet()) {
            INDArray ref = e.getValue();
            INDArray got = eager.gradients().get(e.getKey());
            assertEquals(DataType.DOUBLE, got.dataType(), e.getKey());
            assertArrayEquals(ref.shape(), got.shape(), e.getKey());
            double scale = ref.amaxNumber().doubleValue();
            double diff = ref.sub(got).amaxNumber().doubleValue();
            double tol = REL * scale + 1e-12 * overall;
            assertTrue(diff <= tol, what + ": " + e.getKey() + ": max |diff| " + diff + " > " + tol
                    + " (max |graph| " + scale + ")");
        }
    }

    @Test
    void twoLayersQueryGlobalBatchOfTwo() {
        check(new Case(16, 2, 24, List.of(8, 4), 2, 3, 4, 2, true, 0.1, 0.1), 11, null);
    }

    @Test
    void windowsThatDoNotDivideTheLengthQueryGlobalOff() {
        // D 4, K 3: 30 tokens, padded to 32 (window 8); the window 6 (w = 3) leaves a partial last block
        check(new Case(12, 3, 20, List.of(6, 8), 2, 4, 3, 1, false, 0.1, 0.1), 12, null);
    }

    @Test
    void keptLayersOddSizes() {
        // D 5, K 2: 21 tokens padded to 24 (windows 4, 12, 4): only the first two layers run
        check(new Case(8, 2, 12, List.of(4, 12, 4), 2, 5, 2, 2, true, 0.1, 0.1), 13, null);
    }

    @Test
    void dropoutWithTheSameGenerator() {
        check(new Case(16, 2, 24, List.of(8, 4), 2, 3, 4, 2, true, 0.2, 0.3), 14, 99L);
    }

    @Test
    void dropoutQueryGlobalOffPartialBlocks() {
        check(new Case(12, 3, 20, List.of(6, 8), 2, 4, 3, 2, false, 0.15, 0.25), 15, 7L);
    }
}
