package org.locore.data.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The evaluator on the benchmark's real ground truth, with rankings whose metrics are known by hand. */
class RevisitedEvaluatorRealTest {
    private static final double EPS = 1e-12;
    private static final String OXFORD = "revisitop/gnd_roxford5k.pkl";
    private static final String PARIS = "revisitop/gnd_rparis6k.pkl";

    private static GroundTruth oxford;
    private static GroundTruth paris;

    @BeforeAll
    static void load() throws IOException {
        oxford = GroundTruth.read(Fixtures.path(OXFORD));
        paris = GroundTruth.read(Fixtures.path(PARIS));
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    /** Every gallery index not in the given lists, ascending. */
    private static int[] rest(int n, int[]... exclude) {
        boolean[] skip = new boolean[n];
        for (int[] e : exclude) for (int i : e) skip[i] = true;
        return IntStream.range(0, n).filter(i -> !skip[i]).toArray();
    }

    /** easy, then hard, then junk, then everything else: perfect for every protocol. */
    private static int[][] perfect(GroundTruth g) {
        int[][] r = new int[g.numQueries()][];
        for (int i = 0; i < r.length; i++) {
            GroundTruth.Query q = g.queries().get(i);
            r[i] = concat(q.easy(), q.hard(), q.junk(), rest(g.numImages(), q.easy(), q.hard(), q.junk()));
        }
        return r;
    }

    private static void assertAllOne(ProtocolResult p) {
        assertEquals(1.0, p.map(), EPS, p.protocol() + " mAP");
        assertEquals(1.0, p.mpAt1(), EPS, p.protocol() + " mP@1");
        assertEquals(1.0, p.mpAt5(), EPS, p.protocol() + " mP@5");
        assertEquals(1.0, p.mpAt10(), EPS, p.protocol() + " mP@10");
        for (int i = 0; i < p.aps().length; i++) {
            if (!p.excluded(i)) assertEquals(1.0, p.aps()[i], EPS, p.protocol() + " AP of query " + i);
        }
    }

    @Test
    void realGroundTruthHasTheExpectedShape() {
        assertEquals(70, oxford.numQueries());
        assertEquals(4993, oxford.numImages());
        assertEquals(70, paris.numQueries());
        assertEquals(6322, paris.numImages());
    }

    @Test
    void perfectRankingScoresOneForEveryProtocol() {
        for (GroundTruth g : List.of(oxford, paris)) {
            RevisitedResult r = new RevisitedEvaluator(g).evaluate(perfect(g));
            for (Protocol p : Protocol.values()) assertAllOne(r.get(p));
        }
    }

    /**
     * Medium, positives last: with N' non-ignored images and npos positives, the positives sit at ranks
     * a + j (a = N' - npos, j = 0 .. npos-1), so AP = 1/npos * sum_j [ j/(a+j) + (j+1)/(a+j+1) ] / 2 and
     * precision at 1, 5 and 10 is 0 (kq = k since a + npos >= 10).
     */
    @Test
    void allPositivesLast() {
        GroundTruth g = oxford;
        int[][] r = new int[g.numQueries()][];
        for (int i = 0; i < r.length; i++) {
            GroundTruth.Query q = g.queries().get(i);
            r[i] = concat(rest(g.numImages(), q.easy(), q.hard(), q.junk()), q.junk(), q.easy(), q.hard());
        }
        ProtocolResult m = new RevisitedEvaluator(g).evaluate(r, Protocol.MEDIUM);
        // query 0 of ROxford: 65 easy + 38 hard = 103 positives, 33 junk, 4993 images -> N' = 4960, a = 4857
        GroundTruth.Query q0 = g.queries().get(0);
        assertEquals(65, q0.easy().length);
        assertEquals(38, q0.hard().length);
        assertEquals(33, q0.junk().length);
        int npos = 103;
        int a = 4993 - 33 - npos;
        double expected = 0;
        for (int j = 0; j < npos; j++) {
            expected += ((double) j / (a + j) + (double) (j + 1) / (a + j + 1)) / 2 / npos;
        }
        assertEquals(expected, m.aps()[0], EPS);
        assertTrue(m.aps()[0] < 0.03, "positives last must give a tiny AP");
        assertEquals(0.0, m.mpAt1(), EPS);
        assertEquals(0.0, m.mpAt5(), EPS);
        assertEquals(0.0, m.mpAt10(), EPS);
    }

    @Test
    void junkBeforeAPositiveHasNoEffect() {
        for (GroundTruth g : List.of(oxford, paris)) {
            int[][] r = perfect(g);
            for (int i = 0; i < r.length; i++) {
                GroundTruth.Query q = g.queries().get(i);
                if (q.junk().length == 0) continue;
                // move the first junk image to the very front, before every positive
                int junk = q.junk()[0];
                int[] moved = new int[r[i].length];
                moved[0] = junk;
                int k = 1;
                for (int id : r[i]) if (id != junk) moved[k++] = id;
                r[i] = moved;
            }
            RevisitedResult res = new RevisitedEvaluator(g).evaluate(r);
            for (Protocol p : Protocol.values()) assertAllOne(res.get(p));
            // whereas a non-ignored negative in front does cost precision
            int[][] neg = perfect(g);
            GroundTruth.Query q0 = g.queries().get(0);
            int negative = rest(g.numImages(), q0.easy(), q0.hard(), q0.junk())[0];
            int[] m = new int[neg[0].length];
            m[0] = negative;
            int k = 1;
            for (int id : neg[0]) if (id != negative) m[k++] = id;
            neg[0] = m;
            assertTrue(new RevisitedEvaluator(g).evaluate(neg, Protocol.MEDIUM).aps()[0] < 1.0);
        }
    }

    @Test
    void queriesWithoutEasyImagesAreExcludedFromEasyOnly() {
        List<Integer> noEasy = IntStream.range(0, oxford.numQueries())
                .filter(i -> oxford.queries().get(i).easy().length == 0).boxed().collect(Collectors.toList());
        assertEquals(List.of(11, 66), noEasy, "ROxford queries without easy positives");
        // a ranking that is perfect except for those queries, which get their positives last
        int[][] r = perfect(oxford);
        RevisitedEvaluator ev = new RevisitedEvaluator(oxford);
        for (int i : noEasy) {
            GroundTruth.Query q = oxford.queries().get(i);
            r[i] = concat(rest(oxford.numImages(), q.hard(), q.junk()), q.junk(), q.hard());
        }
        ProtocolResult easy = ev.evaluate(r, Protocol.EASY);
        assertEquals(68, easy.numEvaluated());
        for (int i : noEasy) assertTrue(easy.excluded(i));
        assertAllOne(easy); // the two bad rankings do not count
        ProtocolResult medium = ev.evaluate(r, Protocol.MEDIUM);
        assertEquals(70, medium.numEvaluated());
        double sum = 0;
        for (double ap : medium.aps()) sum += ap;
        assertEquals(sum / 70, medium.map(), EPS);
        assertTrue(medium.map() < 1.0);
    }

    /** Positives first but only the first half kept: each kept positive adds 1/npos, the rest count as missed. */
    @Test
    void truncatedRankingsCountMissingPositivesAsNotRetrieved() {
        GroundTruth g = paris;
        int[][] r = new int[g.numQueries()][];
        double expectedSum = 0;
        for (int i = 0; i < r.length; i++) {
            GroundTruth.Query q = g.queries().get(i);
            int[] pos = concat(q.easy(), q.hard());
            int keep = pos.length / 2;
            r[i] = Arrays.copyOf(pos, keep);
            expectedSum += (double) keep / pos.length;
        }
        ProtocolResult m = new RevisitedEvaluator(g).evaluate(r, Protocol.MEDIUM);
        assertEquals(70, m.numEvaluated());
        assertEquals(expectedSum / 70, m.map(), EPS);
        // a query whose list holds none of its positives gets AP 0 and precision 0
        r[0] = rest(g.numImages(), g.queries().get(0).easy(), g.queries().get(0).hard());
        r[0] = Arrays.copyOf(r[0], 100);
        ProtocolResult m0 = new RevisitedEvaluator(g).evaluate(r, Protocol.MEDIUM);
        assertEquals(0.0, m0.aps()[0], 0.0);
    }

    /** +1M: distractor indices (>= numImages) interleaved with positives are plain negatives. */
    @Test
    void distractorIndicesAreNegatives() {
        GroundTruth g = oxford;
        int n = g.numImages();
        int[][] r = new int[g.numQueries()][];
        double expectedSum = 0;
        for (int i = 0; i < r.length; i++) {
            GroundTruth.Query q = g.queries().get(i);
            int[] hard = q.hard();
            // Hard protocol: distractor, hard_0, distractor, hard_1, ... -> hard_j at rank 2j + 1
            int[] list = new int[2 * hard.length];
            for (int j = 0; j < hard.length; j++) {
                list[2 * j] = n + 999_000 + j; // ids up to the end of a +1M gallery
                list[2 * j + 1] = hard[j];
            }
            r[i] = list;
            double ap = 0;
            for (int j = 0; j < hard.length; j++) {
                int rank = 2 * j + 1;
                ap += ((double) j / rank + (double) (j + 1) / (rank + 1)) / 2 / hard.length;
            }
            expectedSum += ap;
        }
        ProtocolResult h = new RevisitedEvaluator(g).evaluate(r, Protocol.HARD);
        assertEquals(expectedSum / 70, h.map(), EPS);
        // positives at 1-based ranks 2, 4, ..., 2h. P@1 = 0 (a distractor first). The quirk kq = min(k, 2h):
        // P@5 = 1/2 for h <= 2 (kq 2 or 4), else 2/5; P@10 = 1/2 always (kq = 2, 4, 6, 8 or 10).
        double p5 = 0;
        for (int i = 0; i < 70; i++) p5 += g.queries().get(i).hard().length <= 2 ? 0.5 : 0.4;
        assertTrue(p5 != 0.4 * 70, "some ROxford queries have at most 2 hard images");
        assertEquals(0.0, h.mpAt1(), EPS);
        assertEquals(p5 / 70, h.mpAt5(), EPS);
        assertEquals(0.5, h.mpAt10(), EPS);
    }

    @Test
    void reorderingForAProtocolDoesNotChangeItsMetrics() {
        Random rnd = new Random(7);
        for (GroundTruth g : List.of(oxford, paris)) {
            int[][] r = randomRankings(g, rnd, false);
            RevisitedEvaluator ev = new RevisitedEvaluator(g);
            for (Protocol p : Protocol.values()) {
                int[][] re = new int[r.length][];
                for (int i = 0; i < r.length; i++) {
                    GroundTruth.Query q = g.queries().get(i);
                    re[i] = RevisitedEvaluator.reorderForProtocol(r[i], q, p);
                    int[] ignored = p.ignored(q);
                    boolean seenIgnored = false;
                    for (int id : re[i]) {
                        boolean ig = Arrays.binarySearch(ignored, id) >= 0;
                        assertFalse(seenIgnored && !ig, "an ignored image precedes a kept one");
                        seenIgnored |= ig;
                    }
                    int[] a = r[i].clone();
                    int[] b = re[i].clone();
                    Arrays.sort(a);
                    Arrays.sort(b);
                    assertArrayEquals(a, b);
                }
                ProtocolResult before = ev.evaluate(r, p);
                ProtocolResult after = ev.evaluate(re, p);
                assertArrayEquals(before.aps(), after.aps(), 0.0);
                assertEquals(before.mpAt10(), after.mpAt10(), 0.0);
            }
        }
    }

    /** Random permutations, some truncated, some with +1M-style distractor indices mixed in. */
    private static int[][] randomRankings(GroundTruth g, Random rnd, boolean distractors) {
        int n = g.numImages();
        int[][] r = new int[g.numQueries()][];
        for (int i = 0; i < r.length; i++) {
            List<Integer> ids = new ArrayList<>(n + 100);
            for (int k = 0; k < n; k++) ids.add(k);
            if (distractors) for (int k = 0; k < 100; k++) ids.add(n + rnd.nextInt(1_000_000));
            java.util.Collections.shuffle(ids, rnd);
            // bias: pull the query's positives towards the front so that APs are not all tiny
            GroundTruth.Query q = g.queries().get(i);
            int[] pos = concat(q.easy(), q.hard());
            for (int p : pos) {
                if (rnd.nextBoolean()) {
                    ids.remove(Integer.valueOf(p));
                    ids.add(rnd.nextInt(Math.min(ids.size(), 200)), p);
                }
            }
            int len = switch (i % 4) {
                case 0 -> ids.size();               // full
                case 1 -> 100;                      // truncated shortlist
                case 2 -> 1 + rnd.nextInt(400);     // random truncation
                default -> rnd.nextInt(10);         // almost empty, often without positives
            };
            r[i] = ids.subList(0, len).stream().mapToInt(Integer::intValue).toArray();
        }
        return r;
    }

    @Test
    void agreesWithPythonTranscriptionOfRevisitop() throws Exception {
        String python = Fixtures.python("numpy");
        Assumptions.assumeTrue(python != null, "no Python with numpy: cross-check against revisitop skipped");
        Path script = Files.createTempFile("revisitop_compute_map", ".py");
        try (InputStream in = RevisitedEvaluatorRealTest.class.getResourceAsStream("revisitop_compute_map.py")) {
            Files.write(script, in.readAllBytes());
        }
        Random rnd = new Random(12345);
        ObjectMapper json = new ObjectMapper();
        try {
            for (String file : List.of(OXFORD, PARIS)) {
                GroundTruth g = GroundTruth.read(Fixtures.path(file));
                int[][] r = randomRankings(g, rnd, true);
                Path rankings = Files.createTempFile("rankings", ".txt");
                try {
                    Files.writeString(rankings, Arrays.stream(r).map(row -> Arrays.stream(row)
                                    .mapToObj(Integer::toString).collect(Collectors.joining(" ")))
                            .collect(Collectors.joining("\n")), StandardCharsets.UTF_8);
                    String out = Fixtures.runPython(python, Files.readString(script), Fixtures.path(file).toString(),
                            rankings.toString());
                    JsonNode expected = json.readTree(out.substring(out.indexOf('{')));
                    RevisitedResult actual = new RevisitedEvaluator(g).evaluate(r);
                    for (Protocol p : Protocol.values()) {
                        JsonNode e = expected.get(p.key());
                        ProtocolResult a = actual.get(p);
                        String what = file + " " + p;
                        assertEquals(e.get("map").asDouble(), a.map(), EPS, what + " mAP");
                        assertEquals(e.get("mp").get(0).asDouble(), a.mpAt1(), EPS, what + " mP@1");
                        assertEquals(e.get("mp").get(1).asDouble(), a.mpAt5(), EPS, what + " mP@5");
                        assertEquals(e.get("mp").get(2).asDouble(), a.mpAt10(), EPS, what + " mP@10");
                        for (int i = 0; i < g.numQueries(); i++) {
                            JsonNode ap = e.get("aps").get(i);
                            if (ap.isNull()) assertTrue(a.excluded(i), what + " query " + i + " should be excluded");
                            else assertEquals(ap.asDouble(), a.aps()[i], EPS, what + " AP of query " + i);
                        }
                    }
                    assertTrue(actual.medium().map() > 0.05, "random rankings should not be trivial");
                } finally {
                    Files.deleteIfExists(rankings);
                }
            }
        } finally {
            Files.deleteIfExists(script);
        }
    }
}
