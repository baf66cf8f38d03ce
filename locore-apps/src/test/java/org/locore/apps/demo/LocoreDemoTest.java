package org.locore.apps.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.apps.Main;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole demo on its small configuration with the real LOCORE stages ({@link LocoreDemoStages}): generate,
 * evaluate the global ranking, train a small LOCORE from random weights, grid-search alpha/temperature on the
 * validation split, sliding-re-rank the test queries; the learned re-ranking must beat the global ranking on
 * Medium and Hard by {@link #MARGIN}, and report.json must have the documented structure.
 */
class LocoreDemoTest {
    /** mAP gain required on Medium and Hard (fractions of 1); see the margin note in the README's demo section. */
    static final double MARGIN = 0.05;

    @TempDir
    Path tmp;

    @Test
    void smallDemoTrainsARerankerThatBeatsTheGlobalRanking() throws IOException {
        Path out = tmp.resolve("demo");
        CommandLine cl = Main.commandLine();
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        cl.setOut(new PrintWriter(o));
        cl.setErr(new PrintWriter(e));
        int code = cl.execute("demo", "--small", "--out", out.toString());
        assertEquals(0, code, e.toString());
        assertTrue(o.toString().contains("LOCORE re-ranked"), o.toString());

        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        for (String part : List.of("global", "reranked")) {
            JsonNode m = report.get(part);
            assertTrue(m != null && m.isObject(), part + " in " + report);
            assertEquals(List.of("medium", "hard"), keys(m), part);
            for (JsonNode v : m) assertTrue(v.isNumber() && v.asDouble() >= 0 && v.asDouble() <= 1, report.toString());
        }
        assertEquals(List.of("generate", "global", "local_baseline", "train", "gridsearch", "rerank"),
                keys(report.get("seconds")));
        for (JsonNode s : report.get("seconds")) assertTrue(s.isNumber() && s.asDouble() >= 0, report.toString());
        for (JsonNode s : report.get("stages")) assertEquals("done", s.asText(), report.toString());

        for (String p : List.of("medium", "hard")) {
            double g = report.get("global").get(p).asDouble();
            double r = report.get("reranked").get(p).asDouble();
            assertTrue(r >= g + MARGIN, p + ": re-ranked " + r + " vs global " + g + " (margin " + MARGIN + ")");
        }
        // the stages left their outputs where LocoreDemoStages says
        Path model = out.resolve("model");
        for (String f : List.of("config.json", "model.safetensors", "train_log.json")) {
            assertTrue(Files.isRegularFile(model.resolve(f)), f);
        }
        assertTrue(Files.isRegularFile(out.resolve("gridsearch").resolve("best.json")));
        assertTrue(Files.isRegularFile(out.resolve("rerank-medium").resolve("ranks_medium.pkl")));
        assertTrue(Files.isRegularFile(out.resolve("rerank-hard").resolve("ranks_hard.pkl")));
    }

    private static List<String> keys(JsonNode n) {
        List<String> k = new ArrayList<>();
        n.fieldNames().forEachRemaining(k::add);
        return k;
    }
}
