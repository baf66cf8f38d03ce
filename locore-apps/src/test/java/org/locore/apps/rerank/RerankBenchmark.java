package org.locore.apps.rerank;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.locore.data.datavec.FeatureSet;
import org.locore.model.locore.Fusion;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreModel;
import org.locore.model.locore.ScoreMode;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Sliding-window re-ranking throughput against the number of queries whose windows share one forward pass
 * ({@code --batch}). Two models: {@code locore_thin_real} (the real sequence geometry: D = 48, K = 100, 5120
 * tokens, window 512; hidden 64, 1 layer) and {@code locore_tiny_a} (hidden 32, 2 layers, D = 5, K = 7).
 * Random features; each configuration runs once untimed (graph build) and once timed. Skipped unless
 * {@code -Dlocore.bench=true}; prints one line per configuration for BENCHMARKS.md.
 */
class RerankBenchmark {

    @Test
    void batchingWindowsAcrossQueries() throws Exception {
        Assumptions.assumeTrue(Boolean.getBoolean("locore.bench"), "benchmark: run with -Dlocore.bench=true");
        run("locore_thin_real", 4, 100, 50, 150, new int[]{1, 2, 4});
        run("locore_tiny_a", 32, 7, 3, 13, new int[]{1, 4, 16, 32});
    }

    private static void run(String name, int queries, int window, int stride, int top, int[] batches) throws Exception {
        LocoreConfig cfg = LocoreConfig.read(Fixtures.path("locore/" + name + ".json"));
        LocoreModel model = LocoreModel.load(Fixtures.path("locore/" + name + ".weights.safetensors"), cfg);
        int d = cfg.descriptors();
        int e = cfg.longformer().hiddenSize();
        Nd4j.getRandom().setSeed(7);
        ModelScorer scorer = new ModelScorer(model, ScoreMode.MAX_END);
        List<SlidingReranker.Query> qs = new ArrayList<>();
        java.util.Random rnd = new java.util.Random(1);
        for (int q = 0; q < queries; q++) {
            scorer.put(q, new FeatureSet.Blocks(Nd4j.randn(DataType.FLOAT, 1, d, e), Nd4j.zeros(DataType.LONG, 1, d),
                            Nd4j.zeros(DataType.LONG, 1, d), Nd4j.randn(DataType.FLOAT, 1, 1, e)),
                    new FeatureSet.Blocks(Nd4j.randn(DataType.FLOAT, top, d, e), Nd4j.zeros(DataType.LONG, top, d),
                            Nd4j.zeros(DataType.LONG, top, d), Nd4j.randn(DataType.FLOAT, top, 1, e)));
            double[] sims = new double[top];
            for (int i = 0; i < top; i++) sims[i] = 1 - i / (double) top + 0.01 * rnd.nextDouble();
            qs.add(new SlidingReranker.Query(q, IntStream.range(0, top).toArray(), sims));
        }
        List<SlidingReranker.Result> reference = null;
        for (int b : batches) {
            SlidingReranker sr = new SlidingReranker(window, stride, top, WindowOrder.END_TO_START, Fusion.released(), b);
            sr.rerank(qs.subList(0, Math.min(b, queries)), scorer); // graph build for this batch size
            long f0 = scorer.forwards();
            long t0 = System.nanoTime();
            List<SlidingReranker.Result> res = new ArrayList<>();
            for (int q0 = 0; q0 < queries; q0 += b) {
                res.addAll(sr.rerank(qs.subList(q0, Math.min(queries, q0 + b)), scorer));
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            long forwards = scorer.forwards() - f0;
            int windows = queries * sr.starts().length;
            if (reference == null) {
                reference = res;
            } else {
                for (int q = 0; q < queries; q++) {
                    assertEquals(java.util.Arrays.toString(reference.get(q).ranking()), java.util.Arrays.toString(res.get(q).ranking()));
                }
            }
            String line = String.format(Locale.ROOT, "RerankBenchmark %s: %d queries x %d windows (window %d, stride %d, top %d), "
                            + "batch %d: %d forwards, %.2f s, %.2f windows/s, %.3f s/window", name, queries,
                    sr.starts().length, window, stride, top, b, forwards, secs, windows / secs, secs / windows);
            System.err.println(line);
        }
    }
}
