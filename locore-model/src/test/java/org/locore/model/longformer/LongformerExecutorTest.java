package org.locore.model.longformer;

import org.junit.jupiter.api.Test;
import org.locore.model.rowops.RowOps;
import org.locore.model.rowops.ScalarRowOps;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LongformerExecutor} (float32, row kernels) against an independent implementation, {@link LongformerBackprop}'s
 * float64 forward, on a small model with batch 2, padding, masked keys inside the band, global tokens (fewer than the
 * global slots in one row) and layers of different windows: with the SIMD row kernels (when the Vector API is
 * enabled), with the scalar ones, and with dense attention. Runs with one worker thread and with the default ND4J
 * thread count, so that both the sequential and the parallel job paths are covered.
 */
class LongformerExecutorTest {
    private static final String PREFIX = "m.";
    private static final int N = 53;

    private static LongformerConfig config() {
        return new LongformerConfig(16, 2, 4, 24, List.of(8, 12), 80, 1e-5, 0.0, 0.0, 1, 1);
    }

    private static Map<String, INDArray> params(LongformerConfig c) {
        Nd4j.getRandom().setSeed(11);
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

    private static int[][] attention() {
        int[][] a = new int[2][N];
        Random r = new Random(5);
        for (int b = 0; b < 2; b++) {
            for (int j = 0; j < N; j++) a[b][j] = j < N - 6 * b - 2 && r.nextInt(5) != 0 ? 1 : 0;
        }
        return a;
    }

    private static int[][] global() {
        int[][] g = new int[2][N];
        for (int j = 1; j < N; j += 9) g[0][j] = 1;
        g[1][4] = 1;
        return g;
    }

    private static INDArray run(LongformerConfig c, Map<String, INDArray> p64, INDArray input,
                                LongformerExecutor.Attention attention, RowOps ops) {
        return run(c, p64, input, attention, ops, 1);
    }

    private static INDArray run(LongformerConfig c, Map<String, INDArray> p64, INDArray input,
                                LongformerExecutor.Attention attention, RowOps ops, int subBlocks) {
        Map<String, INDArray> p32 = new LinkedHashMap<>();
        p64.forEach((k, v) -> p32.put(k, v.castTo(DataType.FLOAT)));
        LongformerExecutor ex = new LongformerExecutor(c, c.numLayers(), PREFIX, p32::get, attention, ops)
                .subBlocks(subBlocks);
        return ex.run(input.castTo(DataType.FLOAT), attention(), global(), 8).castTo(DataType.DOUBLE);
    }

    private static void assertClose(INDArray expected, INDArray actual, double tol, String what) {
        double diff = expected.sub(actual).amaxNumber().doubleValue();
        assertTrue(diff <= tol, what + ": max |diff| " + diff);
    }

    @Test
    void equalsTheFloat64ReferenceWithEveryKernelAndThreadCount() {
        LongformerConfig c = config();
        Map<String, INDArray> p = params(c);
        INDArray input = Nd4j.randn(DataType.DOUBLE, 2, N, 16);
        INDArray ref = new LongformerBackprop(c, c.numLayers(), PREFIX, p::get, LongformerBackprop.Checkpointing.LEAN)
                .forward(input, attention(), global(), 8, null).dup();
        assertTrue(ref.amaxNumber().doubleValue() > 0.5, "non-trivial hidden states");
        int threads = Nd4j.getEnvironment().maxThreads();
        try {
            for (int t : new int[]{1, threads}) {
                Nd4j.getEnvironment().setMaxThreads(t);
                assertClose(ref, run(c, p, input, LongformerExecutor.Attention.BANDED, RowOps.best()), 1e-4,
                        "banded, best kernels, " + t + " threads");
                assertClose(ref, run(c, p, input, LongformerExecutor.Attention.BANDED, new ScalarRowOps()), 1e-4,
                        "banded, scalar kernels, " + t + " threads");
                assertClose(ref, run(c, p, input, LongformerExecutor.Attention.DENSE, RowOps.best()), 1e-4,
                        "dense, " + t + " threads");
                for (int sub : new int[]{2, 3, 5}) {
                    assertClose(ref, run(c, p, input, LongformerExecutor.Attention.BANDED, RowOps.best(), sub), 1e-4,
                            "banded, " + sub + " query sub-blocks, " + t + " threads");
                }
            }
        } finally {
            Nd4j.getEnvironment().setMaxThreads(threads);
        }
    }

    /**
     * An executor that keeps its working arrays between runs ({@link LongformerExecutor#keepBuffers}) gives what
     * fresh executors give (INDArray equality: within 1e-5; MKL may round differently for differently aligned
     * arrays), also when the sequence length, the global slots and the thread count change between runs (its arrays
     * are then replaced), and its own first result when the first input comes back, before and after a release.
     */
    @Test
    void keptBuffersGiveFreshExecutorsResults() {
        LongformerConfig c = config();
        Map<String, INDArray> p32 = new LinkedHashMap<>();
        params(c).forEach((k, v) -> p32.put(k, v.castTo(DataType.FLOAT)));
        INDArray input = Nd4j.randn(DataType.FLOAT, 2, N, 16);
        int shortN = 41;
        INDArray shortInput = input.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, shortN), org.nd4j.linalg.indexing.NDArrayIndex.all()).dup();
        int[][] shortAtt = new int[2][];
        int[][] shortGlob = new int[2][];
        for (int b = 0; b < 2; b++) {
            shortAtt[b] = java.util.Arrays.copyOf(attention()[b], shortN);
            shortGlob[b] = java.util.Arrays.copyOf(global()[b], shortN);
        }
        LongformerExecutor kept = new LongformerExecutor(c, c.numLayers(), PREFIX, p32::get,
                LongformerExecutor.Attention.BANDED).keepBuffers(true);
        INDArray first = kept.run(input, attention(), global(), 8).dup();
        int threads = Nd4j.getEnvironment().maxThreads();
        try {
            for (int t : new int[]{1, threads}) {
                Nd4j.getEnvironment().setMaxThreads(t);
                for (int slots : new int[]{8, 11}) {
                    INDArray fresh = new LongformerExecutor(c, c.numLayers(), PREFIX, p32::get,
                            LongformerExecutor.Attention.BANDED).run(shortInput, shortAtt, shortGlob, slots);
                    org.junit.jupiter.api.Assertions.assertEquals(fresh, kept.run(shortInput, shortAtt, shortGlob, slots),
                            "kept buffers, " + shortN + " tokens, " + slots + " slots, " + t + " threads");
                }
            }
        } finally {
            Nd4j.getEnvironment().setMaxThreads(threads);
        }
        org.junit.jupiter.api.Assertions.assertEquals(first, kept.run(input, attention(), global(), 8),
                "kept buffers, first input again");
        kept.release();
        org.junit.jupiter.api.Assertions.assertEquals(first, kept.run(input, attention(), global(), 8),
                "after release");
    }
}
