package org.locore.model.longformer;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LongformerBackprop} on its own, in float64 (its agreement with SameDiff's gradients is
 * {@code EagerGradientsTest}'s): processing the attention one head at a time gives the gradients of processing
 * all heads together (the LOCORE-base size uses chunks of 3 of 12 heads; the small test models fit one chunk), with
 * and without dropout; and central finite differences of {@code sum(hidden * R)} confirm a few gradient elements of
 * every kind of parameter and of the input.
 */
class LongformerBackpropTest {
    private static final String PREFIX = "m.";

    private static LongformerConfig config(double dropout) {
        return new LongformerConfig(16, 2, 4, 24, List.of(8, 10), 80, 1e-5, dropout, dropout, 1, 1);
    }

    private static Map<String, INDArray> params(LongformerConfig c, long seed) {
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> p = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : LongformerEncoder.parameterShapes(c, c.numLayers(), PREFIX).entrySet()) {
            INDArray a = Nd4j.randn(DataType.DOUBLE, e.getValue());
            if (e.getKey().endsWith("LayerNorm.weight")) a.muli(0.2).addi(1.0);
            else if (e.getKey().endsWith(".bias")) a.muli(0.1);
            else a.muli(0.4);
            p.put(e.getKey(), a);
        }
        return p;
    }

    private record Run(INDArray hidden, INDArray dInput, Map<String, INDArray> grads) {
    }

    private static final int N = 48;

    private static int[][] attention() {
        int[][] a = new int[2][N];
        Random r = new Random(3);
        for (int b = 0; b < 2; b++) {
            for (int j = 0; j < N; j++) a[b][j] = j < N - 5 * b - 3 && r.nextInt(6) != 0 ? 1 : 0;
        }
        return a;
    }

    private static int[][] global() {
        int[][] g = new int[2][N];
        for (int j = 0; j < N; j += 7) g[0][j] = 1;
        g[1][2] = 1;
        g[1][30] = 1;
        return g;
    }

    private static Run run(LongformerConfig c, Map<String, INDArray> p, INDArray input, INDArray upstream,
                           long chunkBytes, Long dropoutSeed) {
        LongformerBackprop bp = new LongformerBackprop(c, c.numLayers(), PREFIX, p::get,
                LongformerBackprop.Checkpointing.LEAN).withChunkBytes(chunkBytes);
        INDArray hidden = bp.forward(input, attention(), global(), 8, dropoutSeed == null ? null : new Random(dropoutSeed));
        Map<String, INDArray> grads = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : p.entrySet()) grads.put(e.getKey(), Nd4j.zerosLike(e.getValue()));
        INDArray dIn = bp.backward(upstream, grads::get);
        return new Run(hidden.dup(), dIn.dup(), grads);
    }

    private static void assertSame(Run a, Run b, double rel, String what) {
        assertClose(a.hidden(), b.hidden(), rel, what + ": hidden");
        assertClose(a.dInput(), b.dInput(), rel, what + ": input gradient");
        for (String k : a.grads().keySet()) assertClose(a.grads().get(k), b.grads().get(k), rel, what + ": " + k);
    }

    private static void assertClose(INDArray expected, INDArray actual, double rel, String what) {
        double scale = Math.max(expected.amaxNumber().doubleValue(), 1e-300);
        double diff = expected.sub(actual).amaxNumber().doubleValue();
        assertTrue(diff <= rel * scale + 1e-15, what + ": max |diff| " + diff + " vs max " + scale);
    }

    @Test
    void headChunksGiveTheSameGradients() {
        for (Long seed : new Long[]{null, 5L}) {
            LongformerConfig c = config(seed == null ? 0.0 : 0.2);
            Map<String, INDArray> p = params(c, 1);
            INDArray input = Nd4j.randn(DataType.DOUBLE, 2, N, 16);
            INDArray up = Nd4j.randn(DataType.DOUBLE, 2, N, 16);
            Run all = run(c, p, input, up, Long.MAX_VALUE, seed);
            Run oneHead = run(c, p, input, up, 1, seed);
            assertSame(all, oneHead, 1e-12, seed == null ? "no dropout" : "dropout");
            if (seed != null) {
                Run none = run(c, p, input, up, Long.MAX_VALUE, null);
                assertTrue(none.hidden().sub(all.hidden()).amaxNumber().doubleValue() > 1e-3, "dropout is active");
            }
        }
    }

    /**
     * The float32 pass (row kernels, SIMD and scalar) gives the float64 pass's (ND4J ops) outputs and gradients
     * within float32 rounding: with and without dropout, both checkpointing modes, one head or all per chunk, as the
     * second pass of an instance (reusing the first pass's arrays).
     */
    @Test
    void float32RowKernelsMatchFloat64() {
        List<org.locore.model.rowops.RowOps> kernels = new java.util.ArrayList<>();
        kernels.add(new org.locore.model.rowops.ScalarRowOps());
        if (org.locore.model.rowops.RowOps.VECTOR_API) kernels.add(org.locore.model.rowops.RowOps.best());
        for (Long seed : new Long[]{null, 5L}) {
            LongformerConfig c = config(seed == null ? 0.0 : 0.2);
            Map<String, INDArray> p = params(c, 1);
            INDArray input = Nd4j.randn(DataType.DOUBLE, 2, N, 16);
            INDArray up = Nd4j.randn(DataType.DOUBLE, 2, N, 16);
            Run ref = run(c, p, input, up, Long.MAX_VALUE, seed);
            Map<String, INDArray> p32 = new LinkedHashMap<>();
            for (Map.Entry<String, INDArray> e : p.entrySet()) p32.put(e.getKey(), e.getValue().castTo(DataType.FLOAT));
            for (org.locore.model.rowops.RowOps ops : kernels) {
                for (LongformerBackprop.Checkpointing mode : LongformerBackprop.Checkpointing.values()) {
                    for (long chunkBytes : new long[]{Long.MAX_VALUE, 1}) {
                        LongformerBackprop bp = new LongformerBackprop(c, c.numLayers(), PREFIX, p32::get, mode, ops)
                                .withChunkBytes(chunkBytes);
                        // a first pass on other values: the second reuses its tape and working arrays
                        Map<String, INDArray> scratchGrads = new LinkedHashMap<>();
                        for (Map.Entry<String, INDArray> e : p32.entrySet()) {
                            scratchGrads.put(e.getKey(), Nd4j.zerosLike(e.getValue()));
                        }
                        bp.forward(input.castTo(DataType.FLOAT).muli(-0.7), attention(), global(), 8, new Random(99));
                        bp.backward(up.castTo(DataType.FLOAT).muli(3), scratchGrads::get);
                        INDArray hidden = bp.forward(input.castTo(DataType.FLOAT), attention(), global(), 8,
                                seed == null ? null : new Random(seed));
                        Map<String, INDArray> grads = new LinkedHashMap<>();
                        for (Map.Entry<String, INDArray> e : p32.entrySet()) {
                            grads.put(e.getKey(), Nd4j.zerosLike(e.getValue()));
                        }
                        INDArray dIn = bp.backward(up.castTo(DataType.FLOAT), grads::get);
                        String what = ops.getClass().getSimpleName() + ", " + mode + ", chunk " + chunkBytes
                                + (seed == null ? ", no dropout" : ", dropout");
                        assertClose(ref.hidden(), hidden.castTo(DataType.DOUBLE), 2e-5, what + ": hidden");
                        assertClose(ref.dInput(), dIn.castTo(DataType.DOUBLE), 2e-5, what + ": input gradient");
                        for (String k : ref.grads().keySet()) {
                            INDArray expected = ref.grads().get(k);
                            INDArray actual = grads.get(k).castTo(DataType.DOUBLE);
                            if (k.endsWith(".key.bias") || k.endsWith(".key_global.bias")) {
                                // exactly 0 (a key bias shifts a whole softmax row): float32 rounding noise on
                                // the scale of the value bias's gradient
                                double scale = ref.grads().get(k.replace(".key", ".value")).amaxNumber().doubleValue();
                                assertTrue(actual.amaxNumber().doubleValue() <= 2e-5 * scale, what + ": " + k);
                            } else {
                                assertClose(expected, actual, 2e-5, what + ": " + k);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void finiteDifferences() {
        LongformerConfig c = config(0.0);
        Map<String, INDArray> p = params(c, 2);
        INDArray input = Nd4j.randn(DataType.DOUBLE, 2, N, 16);
        INDArray up = Nd4j.randn(DataType.DOUBLE, 2, N, 16);
        Run r = run(c, p, input, up, Long.MAX_VALUE, null);
        double eps = 1e-6;
        Random pick = new Random(9);
        int checked = 0;
        for (String name : new String[]{"embeddings.position_embeddings.weight", "embeddings.LayerNorm.weight",
                "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.key.weight",
                "encoder.layer.1.attention.self.value.bias", "encoder.layer.0.attention.self.query_global.weight",
                "encoder.layer.1.attention.self.key_global.weight", "encoder.layer.0.attention.self.value_global.bias",
                "encoder.layer.1.attention.output.dense.weight", "encoder.layer.0.intermediate.dense.weight",
                "encoder.layer.1.output.dense.bias", "encoder.layer.1.output.LayerNorm.bias"}) {
            INDArray a = p.get(PREFIX + name).reshape(-1);
            INDArray grad = r.grads().get(PREFIX + name).reshape(-1);
            for (int k = 0; k < 1; k++) {
                long i = name.startsWith("embeddings.position") ? (2 + pick.nextInt(N)) * 16L + pick.nextInt(16)
                        : pick.nextInt((int) a.length());
                double v = a.getDouble(i);
                a.putScalar(i, v + eps);
                double plus = loss(c, p, input, up);
                a.putScalar(i, v - eps);
                double minus = loss(c, p, input, up);
                a.putScalar(i, v);
                double fd = (plus - minus) / (2 * eps);
                assertEquals(fd, grad.getDouble(i), 1e-6 * Math.max(1, Math.abs(fd)), name + "[" + i + "]");
                checked++;
            }
        }
        INDArray in = input.reshape(-1);
        for (int k = 0; k < 2; k++) {
            long i = pick.nextInt((int) in.length());
            double v = in.getDouble(i);
            in.putScalar(i, v + eps);
            double plus = loss(c, p, input, up);
            in.putScalar(i, v - eps);
            double minus = loss(c, p, input, up);
            in.putScalar(i, v);
            assertEquals((plus - minus) / (2 * eps), r.dInput().reshape(-1).getDouble(i),
                    1e-6 * Math.max(1, Math.abs((plus - minus) / (2 * eps))), "input[" + i + "]");
            checked++;
        }
        assertEquals(14, checked);
    }

    private static double loss(LongformerConfig c, Map<String, INDArray> p, INDArray input, INDArray up) {
        LongformerBackprop bp = new LongformerBackprop(c, c.numLayers(), PREFIX, p::get,
                LongformerBackprop.Checkpointing.FAST);
        return bp.forward(input, attention(), global(), 8, null).mul(up).sumNumber().doubleValue();
    }
}
