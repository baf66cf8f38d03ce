package org.locore.data.eval;

import org.junit.jupiter.api.Test;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Small hand-made ground truths whose metrics are worked out by hand in the comments. */
class RevisitedEvaluatorHandTest {
    private static final double EPS = 1e-12;

    private static GroundTruth gnd(int numImages, GroundTruth.Query... queries) {
        List<String> im = new ArrayList<>();
        for (int i = 0; i < numImages; i++) im.add("im" + i);
        List<String> qim = new ArrayList<>();
        for (int i = 0; i < queries.length; i++) qim.add("q" + i);
        return new GroundTruth(im, qim, List.of(queries));
    }

    private static GroundTruth.Query q(int[] easy, int[] hard, int[] junk) {
        return new GroundTruth.Query(null, easy, hard, junk, new int[0]);
    }

    /** easy {0, 1}, hard {2}, junk {3}; gallery of 10. */
    private static final GroundTruth.Query Q = q(new int[]{0, 1}, new int[]{2}, new int[]{3});

    @Test
    void workedExampleAllProtocols() {
        RevisitedEvaluator ev = new RevisitedEvaluator(gnd(10, Q));
        int[][] ranking = {{5, 0, 3, 2, 6, 1, 4, 7, 8, 9}};
        // Medium: ok {0,1,2}, junk {3}. Positions 1 (0), 3 (2), 5 (1); one junk before the last two -> ranks 1, 2, 4.
        // AP = 1/3 [ (0/1 + 1/2)/2 + (1/2 + 2/3)/2 + (2/4 + 3/5)/2 ] = 1/3 [1/4 + 7/12 + 11/20] = 83/180
        ProtocolResult m = ev.evaluate(ranking, Protocol.MEDIUM);
        assertEquals(83.0 / 180.0, m.map(), EPS);
        // 1-based ranks 2, 3, 5; last = 5. P@1: kq 1 -> 0. P@5: kq 5 -> 3/5. P@10: kq = min(10, 5) = 5 -> 3/5 (quirk)
        assertEquals(0.0, m.mpAt1(), EPS);
        assertEquals(0.6, m.mpAt5(), EPS);
        assertEquals(0.6, m.mpAt10(), EPS);
        // Easy: ok {0,1}, junk {3, 2}. Positions 1 (0) and 5 (1); junk 3 and 2 before 1 -> ranks 1, 3.
        // AP = 1/2 [ (0 + 1/2)/2 + (1/3 + 2/4)/2 ] = 1/2 [1/4 + 5/12] = 1/3
        ProtocolResult e = ev.evaluate(ranking, Protocol.EASY);
        assertEquals(1.0 / 3.0, e.map(), EPS);
        // 1-based 2, 4: P@1 = 0; P@5: kq = 4 -> 2/4; P@10 likewise
        assertEquals(0.0, e.mpAt1(), EPS);
        assertEquals(0.5, e.mpAt5(), EPS);
        assertEquals(0.5, e.mpAt10(), EPS);
        // Hard: ok {2}, junk {3, 0, 1}. Position 3; junk 0 (pos 1) and 3 (pos 2) before -> rank 1.
        // AP = (0/1 + 1/2)/2 = 1/4; P@1 = 0 (kq 1), P@5: kq = 2 -> 1/2
        ProtocolResult h = ev.evaluate(ranking, Protocol.HARD);
        assertEquals(0.25, h.map(), EPS);
        assertEquals(0.0, h.mpAt1(), EPS);
        assertEquals(0.5, h.mpAt5(), EPS);
        assertEquals(0.5, h.mpAt10(), EPS);
        RevisitedResult all = ev.evaluate(ranking);
        assertEquals(m.map(), all.medium().map(), 0.0);
        assertEquals(e.map(), all.get(Protocol.EASY).map(), 0.0);
        assertEquals(h.mpAt5(), all.hard().mpAt5(), 0.0);
    }

    @Test
    void precisionQuirkUsesLastPositiveRank() {
        // single positive at 1-based rank 3: kq for k=5 and k=10 is 3, so mP@5 = mP@10 = 1/3 (not 1/5, 1/10)
        assertEquals(1.0 / 3, RevisitedEvaluator.precisionAtK(new int[]{2}, 5), EPS);
        assertEquals(1.0 / 3, RevisitedEvaluator.precisionAtK(new int[]{2}, 10), EPS);
        assertEquals(0.0, RevisitedEvaluator.precisionAtK(new int[]{2}, 1), EPS);
        // positives at 1-based 1 and 12: P@10 uses kq = 10 -> 1/10
        assertEquals(0.1, RevisitedEvaluator.precisionAtK(new int[]{0, 11}, 10), EPS);
        assertEquals(0.0, RevisitedEvaluator.precisionAtK(new int[0], 10), EPS);
    }

    @Test
    void distractorsCountAsNegatives() {
        RevisitedEvaluator ev = new RevisitedEvaluator(gnd(10, Q));
        // ids >= 10 are distractors; 1_000_009 is far beyond the benchmark
        int[][] ranking = {{1_000_009, 0, 10, 1, 2}};
        // Medium ranks 1, 3, 4: AP = 1/3 [ (0 + 1/2)/2 + (1/3 + 2/4)/2 + (2/4 + 3/5)/2 ] = 1/3 [1/4 + 5/12 + 11/20]
        assertEquals((0.25 + 5.0 / 12 + 0.55) / 3, ev.evaluate(ranking, Protocol.MEDIUM).map(), EPS);
    }

    @Test
    void truncatedRankingCountsMissingPositivesAsNotRetrieved() {
        RevisitedEvaluator ev = new RevisitedEvaluator(gnd(10, Q));
        // only 0 retrieved, at rank 0: Medium AP = (1 + 1)/2 * 1/3 = 1/3; Easy = 1/2; Hard: nothing retrieved -> 0
        int[][] ranking = {{0, 5}};
        assertEquals(1.0 / 3, ev.evaluate(ranking, Protocol.MEDIUM).map(), EPS);
        assertEquals(0.5, ev.evaluate(ranking, Protocol.EASY).map(), EPS);
        ProtocolResult h = ev.evaluate(ranking, Protocol.HARD);
        assertEquals(0.0, h.map(), EPS);
        assertEquals(0.0, h.mpAt1(), EPS);
        assertEquals(1, h.numEvaluated());
        // empty ranking
        assertEquals(0.0, ev.evaluate(new int[][]{{}}, Protocol.MEDIUM).map(), EPS);
    }

    @Test
    void queriesWithoutPositivesAreExcluded() {
        GroundTruth.Query noEasy = q(new int[0], new int[]{4}, new int[]{5});
        RevisitedEvaluator ev = new RevisitedEvaluator(gnd(10, Q, noEasy));
        int[][] rankings = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}};
        ProtocolResult e = ev.evaluate(rankings, Protocol.EASY);
        assertEquals(1, e.numEvaluated());
        assertEquals(1, e.numExcluded());
        assertTrue(e.excluded(1));
        assertTrue(Double.isNaN(e.aps()[1]));
        assertEquals(1.0, e.map(), EPS); // only query 0 counts
        assertEquals(1.0, e.mpAt10(), EPS);
        ProtocolResult h = ev.evaluate(rankings, Protocol.HARD);
        assertEquals(2, h.numEvaluated());
        // q0 hard {2}, junk {3,0,1}: rank 0 -> AP 1; q1 hard {4}: junk 5 before it at position 4 -> rank 4: (0 + 1/5)/2
        assertEquals((1.0 + 0.1) / 2, h.map(), EPS);
    }

    @Test
    void reorderMovesIgnoredToTheEndKeepingOrder() {
        int[] ranking = {3, 7, 0, 2, 11, 1, 5};
        assertArrayEquals(new int[]{7, 0, 2, 11, 1, 5, 3}, RevisitedEvaluator.reorderForProtocol(ranking, Q, Protocol.MEDIUM));
        // Hard: junk {3} and easy {0, 1} to the end, in their order of appearance
        assertArrayEquals(new int[]{7, 2, 11, 5, 3, 0, 1}, RevisitedEvaluator.reorderForProtocol(ranking, Q, Protocol.HARD));
        // Easy: junk {3} and hard {2}
        assertArrayEquals(new int[]{7, 0, 11, 1, 5, 3, 2}, RevisitedEvaluator.reorderForProtocol(ranking, Q, Protocol.EASY));
        assertArrayEquals(new int[]{3, 7, 0, 2, 11, 1, 5}, ranking, "input must not change");
    }

    @Test
    void rejectsWrongNumberOfRankingsAndNegativeIds() {
        RevisitedEvaluator ev = new RevisitedEvaluator(gnd(10, Q));
        assertThrows(IllegalArgumentException.class, () -> ev.evaluate(new int[2][3]));
        assertThrows(IllegalArgumentException.class, () -> ev.evaluate(new int[][]{{0, -1}}));
    }
}
