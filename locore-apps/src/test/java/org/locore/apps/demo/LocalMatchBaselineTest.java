package org.locore.apps.demo;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.features.ImageFeatures;
import org.locore.data.groundtruth.Protocol;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The synthetic data admits the gain: a learning-free local matcher re-ranking the global top-k beats the global
 * ranking by a clear margin on Medium and Hard.
 */
class LocalMatchBaselineTest {
    @TempDir
    Path tmp;

    @Test
    void localMatchingBeatsTheGlobalRankingByTenPoints() throws Exception {
        BenchmarkFiles files = new BenchmarkFiles(tmp);
        new SyntheticLandmarks(SyntheticLandmarks.Config.small()).generate(files);
        try (TestBenchmark bench = TestBenchmark.open(files.test())) {
            RevisitedEvaluator eval = new RevisitedEvaluator(bench.groundTruth());
            LocalMatchBaseline baseline = new LocalMatchBaseline(LocalMatchBaseline.DEFAULT_THRESHOLD);
            for (Protocol p : new Protocol[]{Protocol.MEDIUM, Protocol.HARD}) {
                double global = eval.evaluate(bench.globalRankings(), p).map();
                double local = eval.evaluate(baseline.rerank(bench, p, 50), p).map();
                System.err.printf("%s: global %.1f, local matching %.1f%n", p, 100 * global, 100 * local);
                assertTrue(local >= global + 0.10, p + ": local matching " + local + " vs global " + global);
            }
        }
    }

    @Test
    void matchesCountsMutualNearestNeighboursAboveTheThresholdAndSkipsPadding() {
        // 2-d descriptors: a0 ~ b1 (cos 0.96), a1 ~ b0 (cos 1); a2 is padding; b2's best is a0 but not mutual
        float[] a = {1, 0, 0, 1, 0.8f, 0.6f};
        float[] b = {0, 1, 0.96f, 0.28f, 0.9f, 0.436f};
        ImageFeatures fa = new ImageFeatures(3, 2, new float[3], new float[3], new int[3],
                new boolean[]{false, false, true}, new float[]{1, 1, 0}, a);
        ImageFeatures fb = new ImageFeatures(3, 2, new float[3], new float[3], new int[3],
                new boolean[3], new float[]{1, 1, 1}, b);
        assertEquals(2, new LocalMatchBaseline(0.75).matches(fa, fb));
        assertEquals(1, new LocalMatchBaseline(0.99).matches(fa, fb));
        assertEquals(2, new LocalMatchBaseline(0.75).matches(fb, fa));
    }

    @Test
    void rerankSortsOnlyTheTopByScore() {
        // query matches image 30 twice, image 20 once, image 10 never; image 40 (outside top 3) twice
        float[] q = {1, 0, 0, 1};
        ImageFeatures query = features(q);
        java.util.Map<Integer, ImageFeatures> gallery = java.util.Map.of(
                10, features(new float[]{-1, 0, 0, -1}),
                20, features(new float[]{1, 0, 0, -1}),
                30, features(new float[]{1, 0, 0, 1}),
                40, features(new float[]{1, 0, 0, 1}));
        int[] out = new LocalMatchBaseline(0.75).rerank(query, new int[]{10, 20, 30, 40},
                new double[]{0.9, 0.8, 0.7, 0.6}, 3, gallery::get);
        assertArrayEquals(new int[]{30, 20, 10, 40}, out);
    }

    private static ImageFeatures features(float[] d) {
        int n = d.length / 2;
        return new ImageFeatures(n, 2, new float[n], new float[n], new int[n], new boolean[n], new float[n], d);
    }
}
