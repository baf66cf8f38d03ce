package org.locore.data.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.testing.Fixtures;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Gldv2EvaluatorTest {
    private static final double EPS = 1e-12;
    private static final int[] NONE = new int[0];

    private static GroundTruth gnd(int numImages, List<GroundTruth.Query> queries) {
        List<String> im = new ArrayList<>();
        for (int i = 0; i < numImages; i++) im.add("im" + i);
        List<String> qim = new ArrayList<>();
        for (int i = 0; i < queries.size(); i++) qim.add("q" + i);
        return new GroundTruth(im, qim, queries);
    }

    private static GroundTruth.Query ok(int... ids) {
        return new GroundTruth.Query(null, NONE, NONE, NONE, ids);
    }

    @Test
    void rectangularApByHand() {
        // positives at 1-based ranks 1 and 3: (1/1 + 2/3) / 2 = 5/6
        assertEquals(5.0 / 6, Gldv2Evaluator.averagePrecision(new int[]{1, 0, 3, 4}, new int[]{3, 1}, NONE), EPS);
        // one of two positives at rank 2, the other missing: (1/2) / 2
        assertEquals(0.25, Gldv2Evaluator.averagePrecision(new int[]{0, 3}, new int[]{3, 1}, NONE), EPS);
        // a junk image before a positive is removed: same as without it
        assertEquals(1.0, Gldv2Evaluator.averagePrecision(new int[]{7, 3, 1}, new int[]{3, 1}, new int[]{7}), EPS);
    }

    @Test
    void onlyTheFirstHundredCountAndNormaliserIsCapped() {
        int[] positives = IntStream.range(0, 150).toArray();
        // 150 positives ranked first: the first 100 are all hits, normaliser min(150, 100) -> AP 1
        assertEquals(1.0, Gldv2Evaluator.averagePrecision(IntStream.range(0, 200).toArray(), positives, NONE), EPS);
        // a single positive at 0-based rank 100 (the 101st prediction) does not count
        int[] ranking = IntStream.range(1, 201).toArray();
        ranking[100] = 0;
        assertEquals(0.0, Gldv2Evaluator.averagePrecision(ranking, new int[]{0}, NONE), EPS);
        ranking[99] = 0; // at the 100th prediction: 1/100
        assertEquals(0.01, Gldv2Evaluator.averagePrecision(ranking, new int[]{0}, NONE), EPS);
    }

    @Test
    void publicPrivateSplitsAndQueriesWithoutPositives() {
        // 752 queries: query 0 has no positive (excluded), query 1 misses (AP 0), the last 750 are perfect
        List<GroundTruth.Query> qs = new ArrayList<>();
        qs.add(ok());
        qs.add(ok(5));
        for (int i = 0; i < 750; i++) qs.add(ok(i % 5));
        Gldv2Evaluator ev = new Gldv2Evaluator(gnd(10, qs));
        int[][] rankings = new int[752][];
        rankings[0] = new int[]{0, 1};
        rankings[1] = new int[]{0, 1, 2};
        for (int i = 0; i < 750; i++) rankings[2 + i] = new int[]{i % 5, 9};
        Gldv2Result r = ev.evaluate(rankings);
        assertTrue(Double.isNaN(r.aps()[0]));
        assertEquals(751, r.numEvaluated());
        assertEquals(0.0, r.publicMap(), EPS);
        assertEquals(1.0, r.privateMap(), EPS);
        assertEquals(750.0 / 751.0, r.map(), EPS);
    }

    @Test
    void agreesWithPythonTranscriptionOfTheGldv2Metric() throws Exception {
        String python = Fixtures.python();
        Assumptions.assumeTrue(python != null, "no Python 3: cross-check of the GLDv2 metric skipped");
        String script;
        try (InputStream in = Gldv2EvaluatorTest.class.getResourceAsStream("gldv2_map_at_100.py")) {
            script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Random rnd = new Random(99);
        int numImages = 400, nq = 1000;
        List<GroundTruth.Query> qs = new ArrayList<>();
        int[][] rankings = new int[nq][];
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < nq; i++) {
            List<Integer> perm = IntStream.range(0, numImages).boxed().collect(Collectors.toList());
            Collections.shuffle(perm, rnd);
            // 0 to 150 positives (none: excluded; > 100: normaliser capped)
            int npos = i % 10 == 0 ? 0 : i % 10 == 1 ? 101 + rnd.nextInt(50) : 1 + rnd.nextInt(20);
            int[] ok = perm.subList(0, npos).stream().mapToInt(Integer::intValue).toArray();
            Collections.shuffle(perm, rnd);
            // pull some positives forward so that APs spread over [0, 1]
            for (int p : ok) {
                if (rnd.nextInt(3) == 0) {
                    perm.remove(Integer.valueOf(p));
                    perm.add(rnd.nextInt(120), p);
                }
            }
            int len = i % 7 == 0 ? rnd.nextInt(100) : 100 + rnd.nextInt(300);
            rankings[i] = perm.subList(0, len).stream().mapToInt(Integer::intValue).toArray();
            qs.add(ok(ok));
            text.append(Arrays.stream(ok).mapToObj(Integer::toString).collect(Collectors.joining(" "))).append(" ; ")
                    .append(Arrays.stream(rankings[i]).mapToObj(Integer::toString).collect(Collectors.joining(" ")))
                    .append('\n');
        }
        Path file = Files.createTempFile("gldv2", ".txt");
        try {
            Files.writeString(file, text.toString(), StandardCharsets.UTF_8);
            String out = Fixtures.runPython(python, script, file.toString());
            JsonNode expected = new ObjectMapper().readTree(out.substring(out.indexOf('{')));
            Gldv2Result r = new Gldv2Evaluator(gnd(numImages, qs)).evaluate(rankings);
            assertEquals(expected.get("public").asDouble(), r.publicMap(), EPS);
            assertEquals(expected.get("private").asDouble(), r.privateMap(), EPS);
            assertEquals(expected.get("all").asDouble(), r.map(), EPS);
            for (int i = 0; i < nq; i++) {
                JsonNode ap = expected.get("aps").get(i);
                if (ap.isNull()) assertTrue(Double.isNaN(r.aps()[i]), "query " + i + " should be excluded");
                else assertEquals(ap.asDouble(), r.aps()[i], EPS, "AP of query " + i);
            }
            assertTrue(r.map() > 0.05 && r.map() < 0.95, "random rankings should not be trivial: " + r.map());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void fewerThan750QueriesAreAllPrivate() {
        Gldv2Evaluator ev = new Gldv2Evaluator(gnd(4, List.of(ok(1), ok(2))));
        Gldv2Result r = ev.evaluate(new int[][]{{1}, {0, 2}});
        assertTrue(Double.isNaN(r.publicMap()));
        assertEquals(0.75, r.privateMap(), EPS);
        assertEquals(0.75, r.map(), EPS);
        assertThrows(IllegalArgumentException.class, () -> ev.evaluate(new int[][]{{1}}));
        assertThrows(IllegalArgumentException.class, () -> ev.evaluate(new int[][]{{1}, {-3}}));
    }
}
