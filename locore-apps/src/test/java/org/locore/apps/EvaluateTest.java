package org.locore.apps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.data.eval.ProtocolResult;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.testing.Fixtures;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code locore evaluate} on the real ROxford ground truth. */
class EvaluateTest {
    @TempDir
    static Path tmp;
    static Path gndFile;
    static GroundTruth gnd;
    static int[][] perfect;

    @BeforeAll
    static void setUp() throws Exception {
        gndFile = Fixtures.path("revisitop/gnd_roxford5k.pkl");
        gnd = GroundTruth.read(gndFile);
        perfect = new int[gnd.numQueries()][];
        for (int q = 0; q < perfect.length; q++) {
            GroundTruth.Query g = gnd.queries().get(q);
            // easy, then hard, then junk, then everything else: perfect under every protocol
            Set<Integer> order = new LinkedHashSet<>();
            for (int i : g.easy()) order.add(i);
            for (int i : g.hard()) order.add(i);
            for (int i : g.junk()) order.add(i);
            for (int i = 0; i < gnd.numImages(); i++) order.add(i);
            perfect[q] = order.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    private static JsonNode evaluate(String... extra) throws Exception {
        String[] args = new String[3 + extra.length];
        args[0] = "evaluate";
        args[1] = "--gnd";
        args[2] = gndFile.toString();
        System.arraycopy(extra, 0, args, 3, extra.length);
        CommandRunner.Run r = CommandRunner.run(args);
        assertEquals(0, r.code(), r.err());
        return new ObjectMapper().readTree(r.out());
    }

    private static Path textRanks(String name, int[][] ranks) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, Arrays.stream(ranks).map(r -> IntStream.of(r).mapToObj(Integer::toString)
                .collect(Collectors.joining(" "))).collect(Collectors.joining("\n")) + "\n");
        return p;
    }

    @Test
    void perfectRankingScoresOneAsPickleAndAsText() throws Exception {
        double[][] sims = new double[perfect.length][perfect[0].length];
        Path pkl = tmp.resolve("perfect.pkl");
        ShortlistFile.write(pkl, Shortlist.of(sims, perfect));
        for (Path ranks : new Path[]{pkl, textRanks("perfect.txt", perfect)}) {
            JsonNode j = evaluate("--ranks", ranks.toString());
            for (String p : new String[]{"easy", "medium", "hard"}) {
                for (String m : new String[]{"map", "mp@1", "mp@5", "mp@10"}) {
                    assertEquals(1.0, j.get(p).get(m).asDouble(), 1e-12, ranks + " " + p + " " + m);
                }
                assertTrue(j.get(p).path("aps").isMissingNode());
            }
        }
    }

    @Test
    void topTruncatesAndPerQueryListsEveryAp() throws Exception {
        // a reversed perfect ranking: positives at the end
        int[][] rev = new int[perfect.length][];
        for (int q = 0; q < rev.length; q++) {
            rev[q] = new int[perfect[q].length];
            for (int i = 0; i < rev[q].length; i++) rev[q][i] = perfect[q][rev[q].length - 1 - i];
        }
        Path ranks = textRanks("reversed.txt", rev);
        JsonNode j = evaluate("--ranks", ranks.toString(), "--top", "2000", "--per-query");
        int[][] cut = new int[rev.length][];
        for (int q = 0; q < rev.length; q++) cut[q] = Arrays.copyOf(rev[q], 2000);
        for (Protocol p : Protocol.values()) {
            ProtocolResult expected = new RevisitedEvaluator(gnd).evaluate(cut, p);
            JsonNode o = j.get(p.key());
            assertEquals(expected.map(), o.get("map").asDouble(), 1e-12, p.key());
            assertEquals(expected.mpAt10(), o.get("mp@10").asDouble(), 1e-12, p.key());
            JsonNode aps = o.get("aps");
            assertEquals(gnd.numQueries(), aps.size());
            int nulls = 0;
            for (int q = 0; q < aps.size(); q++) {
                if (aps.get(q).isNull()) {
                    nulls++;
                    assertTrue(Double.isNaN(expected.aps()[q]));
                } else {
                    assertEquals(expected.aps()[q], aps.get(q).asDouble(), 1e-12);
                }
            }
            assertEquals(expected.numExcluded(), nulls, p.key());
        }
        // the positives lie beyond rank 2000 for most queries: truncation lowers mAP below the full ranking's
        JsonNode full = evaluate("--ranks", ranks.toString());
        assertTrue(j.get("medium").get("map").asDouble() < full.get("medium").get("map").asDouble());
    }

    @Test
    void badRankFilesEndWithAMessage() throws Exception {
        Path bad = tmp.resolve("bad.txt");
        Files.writeString(bad, "1 2 x\n");
        CommandRunner.Run r = CommandRunner.run("evaluate", "--gnd", gndFile.toString(), "--ranks", bad.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad.txt") && r.err().contains("'x'"), r.err());
        Path few = textRanks("few.txt", new int[][]{{1, 2}});
        r = CommandRunner.run("evaluate", "--gnd", gndFile.toString(), "--ranks", few.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("1 rankings") && r.err().contains("70 queries"), r.err());
    }
}
