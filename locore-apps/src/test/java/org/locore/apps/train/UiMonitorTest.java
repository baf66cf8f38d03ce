package org.locore.apps.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.locore.LocoreInitializer;
import org.locore.model.locore.LocoreModel;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The DL4J UI headless: start it on a free port, train a few steps with the monitor, read the training
 * dashboard's data endpoints over loopback and find the scores of the steps; the server is always stopped.
 */
class UiMonitorTest {

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static JsonNode get(HttpClient http, String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), url + ": " + r.body());
        return new ObjectMapper().readTree(r.body());
    }

    @Test
    @Timeout(240)
    void dashboardShowsTheRun(@TempDir Path dir) throws Exception {
        TrainerTest.set = SyntheticTrainingSet.write(dir.resolve("data"), 5);
        int port = freePort();
        Path log = dir.resolve("ui").resolve("samediff.bin");
        UiMonitor ui = UiMonitor.start(port, log);
        try {
            assertEquals(port, ui.port());
            TrainingOptions o = TrainerTest.options(3, 2, 1, 0.1, 1.0);
            LocoreModel m = LocoreInitializer.random(TrainerTest.config(0.1), 3, 3);
            Trainer t = new Trainer(m, o, dir.resolve("run")).addListener(ui);
            TrainerTest.run(t, o);

            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            String base = "http://127.0.0.1:" + port;
            JsonNode overview = get(http, base + "/train/overview/data");
            JsonNode scores = overview.get("scores");
            assertTrue(scores != null && scores.size() == 3, "scores: " + overview);
            for (int i = 0; i < 3; i++) {
                assertEquals(t.history().get(i).loss(), scores.get(i).asDouble(), 1e-9, "score of step " + i);
            }
            // update:parameter ratios of the weights, one per step (the first step's warm-up rate is 0)
            JsonNode ratios = overview.get("updateRatios").get("classifier_W");
            assertTrue(ratios != null && ratios.size() == 3, "update ratios: " + overview.get("updateRatios"));
            assertEquals(0.0, ratios.get(0).asDouble());
            assertTrue(ratios.get(2).asDouble() > 0);
            JsonNode system = get(http, base + "/train/system/data");
            JsonNode memory = system.path("memory").path("0");
            assertEquals(3, memory.path("times").size(), "memory samples: " + system);
            assertTrue(memory.path("maxBytes").get(0).asLong() > 0);
            // per-parameter statistics of the last step in the storage the dashboard reads
            var last = (org.deeplearning4j.ui.model.stats.api.StatsReport) ui.storage().getLatestUpdate(ui.sessionId(),
                    org.deeplearning4j.ui.model.stats.StatsListener.TYPE_ID, "trainer-0");
            assertEquals(2, last.getIterationCount());
            var pt = org.deeplearning4j.ui.model.stats.api.StatsType.Parameters;
            float[] w = m.parameters().get(LocoreModel.CLASSIFIER_WEIGHT).dup().data().asFloat();
            double mean = 0;
            for (float v : w) mean += v / w.length;
            assertEquals(mean, last.getMean(pt).get("classifier_W"), 1e-6);
            assertEquals(w.length, java.util.Arrays.stream(last.getHistograms(pt).get("classifier_W").getBinCounts()).sum());
            assertTrue(last.getLearningRates().get("classifier_W") > 0);
            // the SameDiff page's log: graph structure plus one loss event per step
            org.nd4j.graph.ui.LogFileWriter reader = new org.nd4j.graph.ui.LogFileWriter(log.toFile());
            assertTrue(reader.readStatic().getData().size() > 0, "graph structure in " + log);
            assertTrue(reader.readEvents().size() >= 3, "loss events in " + log + ": " + reader.readEvents().size());
        } finally {
            ui.close();
        }
        HttpClient after = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThrows(java.io.IOException.class, () -> after.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/train/overview/data")).timeout(Duration.ofSeconds(5)).GET()
                .build(), HttpResponse.BodyHandlers.ofString()), "the server is stopped");
    }
}
