package org.locore.apps.rerank;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.apps.CommandRunner;
import org.locore.data.datavec.FeatureSet;
import org.locore.data.datavec.QueryIterator;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.locore.Fusion;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreModel;
import org.locore.model.locore.ScoreMode;
import org.locore.testing.Fixtures;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code locore rerank} end to end on synthetic features around the real ROxford ground truth (+ distractors). */
class RerankTest {
    @TempDir
    Path tmp;

    @Test
    void slidingRerankOfMediumAndHardPassesWithDistractors() throws Exception {
        SyntheticBenchmark b = new SyntheticBenchmark(tmp);
        Path out = tmp.resolve("out");
        String[] opts = b.inputOptions(true);
        String[] args = new String[opts.length + 17];
        args[0] = "rerank";
        System.arraycopy(opts, 0, args, 1, opts.length);
        String[] more = {"--window", "7", "--stride", "3", "--top", "13", "--order", "end-to-start", "--alpha", "0.5",
                "--temp", "0.7", "--batch", "35", "--out", out.toString()};
        System.arraycopy(more, 0, args, 1 + opts.length, more.length);
        args = Arrays.copyOf(args, 1 + opts.length + more.length);
        CommandRunner.Run r = CommandRunner.run(args);
        assertEquals(0, r.code(), r.err());
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertArrayEquals(new int[]{6, 3, 0}, WindowOrder.END_TO_START.starts(13, 7, 3));

        try (LocalFeatures ql = LocalFeatures.open(b.queryLocal); LocalFeatures gl = LocalFeatures.open(b.galleryLocal);
             LocalFeatures dl = LocalFeatures.open(b.distractorLocal);
             GlobalDescriptors qg = GlobalDescriptors.open(b.queryGlobal, SyntheticBenchmark.E);
             GlobalDescriptors gg = GlobalDescriptors.open(b.galleryGlobal, SyntheticBenchmark.E);
             GlobalDescriptors dg = GlobalDescriptors.open(b.distractorGlobal, SyntheticBenchmark.E)) {
            FeatureSet queries = new FeatureSet(ql, qg);
            FeatureSet gallery = new FeatureSet(gl, gg).followedBy(new FeatureSet(dl, dg));
            LocoreModel model = LocoreModel.load(Fixtures.path("locore/locore_tiny_a.weights.safetensors"),
                    LocoreConfig.read(Fixtures.path("locore/locore_tiny_a.json")));
            RevisitedEvaluator ev = new RevisitedEvaluator(b.groundTruth);
            for (Protocol p : new Protocol[]{Protocol.MEDIUM, Protocol.HARD}) {
                Shortlist s = ShortlistFile.read(out.resolve("ranks_" + p.key() + ".pkl"));
                assertEquals(70, s.numQueries());
                assertEquals(SyntheticBenchmark.M, s.length());
                QueryIterator it = new QueryIterator(queries, gallery, b.shortlist, b.groundTruth, p, 13, 5);
                int nq = s.numQueries();
                int[][] before = new int[nq][];
                int[][] after = new int[nq][];
                for (int qq = 0; qq < nq; qq++) {
                    final int q = qq;
                    QueryIterator.QueryExample ex = it.ranking(q);
                    before[q] = ex.ranking();
                    after[q] = s.ids(q);
                    // beyond the top 13 the reordered shortlist is kept; the top 13 is a permutation of it
                    assertArrayEquals(Arrays.copyOfRange(before[q], 13, 20), Arrays.copyOfRange(after[q], 13, 20));
                    int[] x = Arrays.copyOf(before[q], 13);
                    int[] y = Arrays.copyOf(after[q], 13);
                    Arrays.sort(x);
                    Arrays.sort(y);
                    assertArrayEquals(x, y, "query " + q);
                    // similarities follow their images
                    for (int j = 0; j < 20; j++) {
                        int id = after[q][j];
                        int at = IntStream.range(0, 20).filter(i -> ex.ranking()[i] == id).findFirst().orElseThrow();
                        assertEquals(ex.similarities()[at], s.similarity(q, j), 1e-12);
                    }
                }
                // the command's ranking of a few queries equals a direct run of the reranker on the same data
                ModelScorer scorer = new ModelScorer(model, ScoreMode.MAX_END);
                SlidingReranker sr = new SlidingReranker(7, 3, 13, WindowOrder.END_TO_START, new Fusion(0.5, 0.7), 1);
                for (int q : new int[]{0, 37}) {
                    QueryIterator.QueryExample ex = it.read(q);
                    scorer.put(q, ex.queryBlocks(), ex.galleryBlocks());
                    SlidingReranker.Result res = sr.rerank(new SlidingReranker.Query(q, ex.ranking(), ex.similarities()), scorer);
                    assertArrayEquals(res.ranking(), after[q], p + " query " + q);
                }
                JsonNode m = metrics.get(p.key());
                assertEquals(ev.evaluate(before, p).map(), m.get("before").get("map").asDouble(), 1e-12);
                assertEquals(ev.evaluate(after, p).map(), m.get("after").get("map").asDouble(), 1e-12);
                assertEquals(ev.evaluate(after, p).mpAt5(), m.get("after").get("mp@5").asDouble(), 1e-12);
                // 3 window steps per query, 70 queries in batches of 35
                assertEquals(6, m.get("forwards").asInt());
                assertEquals(210, m.get("sequences").asInt());
            }
            assertEquals(4993 + SyntheticBenchmark.DISTRACTORS, metrics.get("settings").get("gallery").asInt());
        }
        assertTrue(r.out().contains("medium: mAP") && r.out().contains("hard: mAP"), r.out());
    }

    @Test
    void singleWindowWithoutGroundTruth() throws Exception {
        SyntheticBenchmark b = new SyntheticBenchmark(tmp);
        Path out = tmp.resolve("single");
        List<String> args = new ArrayList<>(List.of("rerank"));
        String[] opts = b.inputOptions(true);
        for (int i = 0; i < opts.length; i += 2) {
            if (!opts[i].equals("--gnd")) args.addAll(List.of(opts[i], opts[i + 1]));
        }
        args.addAll(List.of("--window", "7", "--stride", "7", "--top", "7", "--batch", "70", "--out", out.toString()));
        CommandRunner.Run r = CommandRunner.run(args.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        JsonNode none = metrics.get("none");
        assertEquals(1, none.get("forwards").asInt());
        assertTrue(none.path("before").isMissingNode());
        assertEquals("[0]", metrics.get("settings").get("starts").toString());
        Shortlist s = ShortlistFile.read(out.resolve("ranks_none.pkl"));
        // one window: the top 7 permuted, the rest of the shortlist unchanged (no protocol reordering)
        int moved = 0;
        for (int q = 0; q < s.numQueries(); q++) {
            assertArrayEquals(Arrays.copyOfRange(b.shortlist.ids(q), 7, 20), Arrays.copyOfRange(s.ids(q), 7, 20));
            int[] x = Arrays.copyOf(b.shortlist.ids(q), 7);
            int[] y = Arrays.copyOf(s.ids(q), 7);
            if (!Arrays.equals(x, y)) moved++;
            Arrays.sort(x);
            Arrays.sort(y);
            assertArrayEquals(x, y);
        }
        assertTrue(moved > 0, "the model changed no ranking");
        assertTrue(metrics.get("settings").get("alpha").asDouble() == 0.5 && metrics.get("settings").get("temp").asDouble() == 0.1);
    }

    @Test
    void unknownOrderIsRejected() {
        CommandRunner.Run r = CommandRunner.run("rerank", "--query-local", "a", "--query-global", "b", "--gallery-local",
                "c", "--gallery-global", "d", "--shortlist", "e", "--config", "f", "--weights", "g", "--order", "sideways");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("sideways"), r.err());
        r = CommandRunner.run("rerank", "--query-local", "a", "--query-global", "b", "--gallery-local",
                "c", "--gallery-global", "d", "--shortlist", "e", "--config", "f", "--weights", "g", "--gnd", "h",
                "--protocols", "medium,tough");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown protocol 'tough'"), r.err());
    }
}
