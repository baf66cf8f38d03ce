package org.locore.apps.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.apps.Main;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.ImageList;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.locore.Fusion;
import picocli.CommandLine;
import org.locore.apps.CommandRunner.Run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.locore.apps.CommandRunner.run;

/** {@code locore demo} on the small configuration: its report and the files it writes. */
class DemoCommandTest {
    @TempDir
    Path tmp;


    private static void assertMaps(JsonNode node, String what) {
        assertTrue(node.isObject(), what + " is an object");
        assertEquals(List.of("medium", "hard"), iterate(node), what + " keys");
        for (String k : List.of("medium", "hard")) {
            double v = node.get(k).asDouble(-1);
            assertTrue(node.get(k).isNumber() && v >= 0 && v <= 1, what + "." + k + " = " + node.get(k));
        }
    }

    private static List<String> iterate(JsonNode node) {
        List<String> keys = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    @Test
    void smallDemoWritesTheReportAndFilesTheReadersAccept() throws IOException {
        Path out = tmp.resolve("demo");
        Run r = run(Main.commandLine(), "demo", "--out", out.toString(), "--small", "--seed", "3", "--top", "50",
                "--no-locore");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("global only") && r.out().contains("LOCORE re-ranked"), r.out());

        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertMaps(report.get("global"), "global");
        assertMaps(report.get("local_baseline"), "local_baseline");
        assertTrue(report.get("reranked").isNull(), "--no-locore: reranked is null");
        assertEquals(List.of("generate", "global", "local_baseline"), iterate(report.get("seconds")));
        for (JsonNode s : report.get("seconds")) assertTrue(s.isNumber() && s.asDouble() >= 0);
        JsonNode stages = report.get("stages");
        assertEquals(List.of("generate", "global", "local_baseline", "train", "gridsearch", "rerank"), iterate(stages));
        assertEquals("done", stages.get("local_baseline").asText());
        assertEquals("not run: --no-locore", stages.get("train").asText());
        assertEquals(3, report.get("config").get("seed").asLong());
        assertEquals(50, report.get("config").get("top").asInt());
        for (Protocol p : new Protocol[]{Protocol.MEDIUM, Protocol.HARD}) {
            assertTrue(report.get("local_baseline").get(p.key()).asDouble()
                    >= report.get("global").get(p.key()).asDouble() + 0.10, report.toString());
        }

        // every file is read by the project's readers
        BenchmarkFiles files = new BenchmarkFiles(out);
        SyntheticLandmarks.Config c = SyntheticLandmarks.Config.small();
        int train = c.trainLandmarks() * c.trainImagesPerLandmark();
        assertEquals(train, count(files.train(), "train"));
        assertEquals(train, ImageList.read(files.train().imageList("train")).size());
        assertEquals(train, ShortlistFile.read(files.train().shortlist(), train).numQueries());
        for (BenchmarkFiles.Split split : List.of(files.val(), files.test())) {
            int nq = count(split, "query");
            int ng = count(split, "gallery");
            int nd = split.equals(files.test()) ? count(split, "distractors") : 0;
            GroundTruth g = GroundTruth.read(split.groundTruth());
            assertEquals(nq, g.numQueries());
            assertEquals(ng, g.numImages());
            assertEquals(nq, ImageList.read(split.imageList("query")).size());
            assertEquals(ng, ImageList.read(split.imageList("gallery")).size());
            assertEquals(nq, ShortlistFile.read(split.shortlist(), ng + nd).numQueries());
        }
        assertEquals(c.distractors(), count(files.test(), "distractors"));
    }

    /** Opens a part's local and global files; returns the image count they agree on. */
    private static int count(BenchmarkFiles.Split split, String part) throws IOException {
        try (LocalFeatures l = LocalFeatures.open(split.local(part));
             GlobalDescriptors g = GlobalDescriptors.open(split.global(part), l.descriptorDim())) {
            assertEquals(l.numImages(), g.size(), split.local(part).toString());
            return l.numImages();
        }
    }

    @Test
    void givenLocoreStagesTheyRunAndTheirRankingsAreReported() throws IOException {
        Path out = tmp.resolve("with-stages");
        List<String> calls = new java.util.ArrayList<>();
        // a test double that re-ranks with local matching: checks the wiring, not LOCORE
        LocoreStages stages = new LocoreStages() {
            @Override
            public Path train(BenchmarkFiles files, Path modelDir, long seed, double seconds) {
                calls.add("train " + seed + " " + seconds);
                return modelDir.resolve("model.safetensors");
            }

            @Override
            public Fusion gridSearch(BenchmarkFiles files, Path model) {
                calls.add("gridsearch " + model.getFileName());
                return Fusion.released();
            }

            @Override
            public int[][] rerank(BenchmarkFiles files, Path model, Fusion fusion, Protocol protocol)
                    throws IOException {
                calls.add("rerank " + protocol);
                try (TestBenchmark b = TestBenchmark.open(files.test())) {
                    return new LocalMatchBaseline(0.75).rerank(b, protocol, 20);
                }
            }
        };
        Run r = run(new CommandLine(new DemoCommand(stages)), "--out", out.toString(), "--small",
                "--train-seconds", "7");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("train 42 7.0", "gridsearch model.safetensors", "rerank MEDIUM", "rerank HARD"), calls);
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertMaps(report.get("reranked"), "reranked");
        assertEquals(List.of("generate", "global", "local_baseline", "train", "gridsearch", "rerank"),
                iterate(report.get("seconds")));
        report.get("stages").forEach(s -> assertEquals("done", s.asText()));
    }

    @Test
    void badOptionsEndWithAnErrorMessage() {
        Run r = run(Main.commandLine(), "demo", "--out", tmp.resolve("bad").toString(), "--small", "--top", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: --top"), r.err());
        r = run(Main.commandLine(), "demo", "--out", tmp.resolve("bad2").toString(), "--small", "--dim", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("dim must be >= 1"), r.err());
    }
}
