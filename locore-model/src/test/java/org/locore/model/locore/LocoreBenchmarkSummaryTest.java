package org.locore.model.locore;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocoreBenchmarkSummaryTest {
    /** Two invocations in the format {@code LocoreBenchmark eager} prints, with other lines around them. */
    private static final String LOG = """
            === 00:19:51 load 1.23 1.45 1.51
            GEMM [5120,768]x[768,3072] via Nd4j.gemm: best of 6 255.0 GFLOP/s, mean of the 6 253.6 GFLOP/s (load 1.2)
            eager: 5120 tokens x 768 x 12 layers, batch 1: first 9.10 s, mean 7.00 s over 2 runs (best 6.00 s), \
            CPU 13.2 s/run; 1200 GFLOP -> 171.4 GFLOP/s at the mean, 200.0 at the best; check value -331.5; \
            peak RSS so far 1495 MiB; load 1.58 1.52 1.53
            bracketed: each run against the GEMM rate measured just before and after it (8 products each): mean 60% \
            of the best product, 78% of the sustained (mean) rate (6.00 s at 67% of 300/300 best, 80% of 240/260 \
            mean; 8.00 s at 50% of 300/300 best, 75% of 200/200 mean)
            inside: each run against the rate of its own 12 FFN input GEMMs (the same product, timed inside the \
            forward): mean 78% (6.00 s at 80% of 250; 8.00 s at 75% of 200 GFLOP/s)
            GEMM again after the runs: best 253.5, mean 235.1 GFLOP/s; peak RSS 1495 MiB; load 1.58 1.52 1.53
            peak RSS 1531448 kB
            === 00:20:38 load 1.46 1.49 1.52
            eager: 5120 tokens x 768 x 12 layers, batch 1: first 8.59 s, mean 5.00 s over 1 runs (best 5.00 s), \
            CPU 14.4 s/run; 1200 GFLOP -> 240.0 GFLOP/s at the mean, 240.0 at the best; check value -331.5; \
            peak RSS so far 1494 MiB; load 1.66 1.54 1.54
            bracketed: each run against the GEMM rate measured just before and after it (8 products each): mean 80% \
            of the best product, 80% of the sustained (mean) rate (5.00 s at 80% of 300/300 best, 80% of 300/300 mean)
            inside: each run against the rate of its own 12 FFN input GEMMs (the same product, timed inside the \
            forward): mean 80% (5.00 s at 80% of 300 GFLOP/s)
            """;

    @Test
    void pairsEachInvocationsBracketedAndInsideRuns() {
        List<LocoreBenchmarkSummary.Run> runs = LocoreBenchmarkSummary.parse(LOG);
        assertEquals(3, runs.size());
        LocoreBenchmarkSummary.Run first = runs.get(0);
        assertEquals(6.0, first.seconds());
        assertEquals(1200, first.gflop());
        assertEquals(12 * 2.0 * 5120 * 768 * 3072 / 1e9, first.ffnGflop(), 1e-9);
        assertEquals(250, first.insideRate());
        assertEquals(250, first.sustained(), 1e-12); // mean of 240 before and 260 after
        assertEquals(0.8, first.insideRatio(), 1e-12); // 200 GFLOP/s against 250
        assertEquals(200.0 / 300, first.bestRatio(), 1e-12);
        assertEquals(0.75, runs.get(1).insideRatio(), 1e-12); // 150 against 200
        assertEquals(0.8, runs.get(2).insideRatio(), 1e-12); // 240 against 300
    }

    @Test
    void poolsTotalWorkOverTotalTimeOnBothSides() {
        List<LocoreBenchmarkSummary.Run> runs = LocoreBenchmarkSummary.parse(LOG);
        // forward: 3600 GFLOP in 19 s; FFN GEMMs: the same work per run at 250, 200 and 300 GFLOP/s (harmonic mean)
        double ffnRate = 3 / (1 / 250.0 + 1 / 200.0 + 1 / 300.0);
        assertEquals(3600 / 19.0 / ffnRate, LocoreBenchmarkSummary.pooledInsideRatio(runs), 1e-12);
    }

    @Test
    void groupsRunsByAKeyInEqualParts() {
        List<LocoreBenchmarkSummary.Run> runs = LocoreBenchmarkSummary.parse(LOG);
        List<List<LocoreBenchmarkSummary.Run>> g = LocoreBenchmarkSummary.groups(runs,
                LocoreBenchmarkSummary.Run::sustained, 3);
        assertEquals(200, g.get(0).get(0).sustained(), 1e-12);
        assertEquals(250, g.get(1).get(0).sustained(), 1e-12);
        assertEquals(300, g.get(2).get(0).sustained(), 1e-12);
        String summary = LocoreBenchmarkSummary.summary(runs);
        assertTrue(summary.contains("3 runs: 5.00-8.00 s"), summary);
        assertTrue(summary.contains("3 of 3 at or above 75%"), summary);
        // against the sustained rate: 200/250, 150/200, 240/300
        assertTrue(summary.contains("mean 78.3%, 3 of 3 at or above 75%"), summary);
    }

    @Test
    void mismatchedRunListsAreAnError() {
        String broken = LOG.replace("(6.00 s at 80% of 250; 8.00 s at 75% of 200 GFLOP/s)", "(6.00 s at 80% of 250 GFLOP/s)");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LocoreBenchmarkSummary.parse(broken));
        assertTrue(e.getMessage().contains("2 bracketed runs but 1 inside runs"), e.getMessage());
        assertEquals("no runs found (expected the eager:, bracketed: and inside: lines of LocoreBenchmark eager)",
                LocoreBenchmarkSummary.summary(List.of()));
    }
}
