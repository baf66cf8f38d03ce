package org.locore.apps.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.apps.Main;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code locore train} end to end on a synthetic set: options file, checkpoints, log, resume, bad input. */
class TrainCommandTest {

    private static int run(StringWriter out, StringWriter err, String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        return cl.execute(args);
    }

    @Test
    void trainsFromAnOptionsFileAndResumes(@TempDir Path dir) throws Exception {
        SyntheticTrainingSet set = SyntheticTrainingSet.write(dir.resolve("data"), 3);
        Path out = dir.resolve("run");
        List<String> opts = new ArrayList<>(set.dataArgs());
        opts.addAll(List.of("--out", out.toString(), "--init", "random", "--batch", "2", "--accumulate", "1",
                "--lr", "1e-3", "--warmup", "2", "--dropout", "0.1", "--checkpoint-every", "2", "--keep", "2",
                "--seed", "5"));
        Path args = dir.resolve("train.args");
        Files.write(args, opts);

        StringWriter o = new StringWriter(), e = new StringWriter();
        assertEquals(0, run(o, e, "train", "@" + args, "--steps", "3"), e.toString());
        assertTrue(o.toString().contains("trained 3 steps (6 examples)"), o.toString());
        Checkpoints ck = new Checkpoints(out.resolve("checkpoints"), 2);
        assertEquals(List.of(2L, 3L), ck.list().stream().map(Checkpoints::stepOf).toList());
        JsonNode log = new ObjectMapper().readTree(Files.readAllBytes(out.resolve(Trainer.LOG_FILE)));
        assertEquals(3, log.get("steps").size());
        assertEquals(0.0, log.get("steps").get(0).get("learningRate").asDouble());
        assertEquals(1e-3, log.get("steps").get(2).get("learningRate").asDouble(), 1e-12);
        for (JsonNode s : log.get("steps")) {
            assertTrue(s.get("loss").asDouble() > 0 && Double.isFinite(s.get("loss").asDouble()));
            double r10 = s.get("recallAt10").asDouble();
            assertEquals(1.0, r10, 1e-9, "a gallery of 7 is entirely inside the top 10");
        }

        // continue to 5 steps: the log keeps the first 3 steps and the final weights equal the last checkpoint's
        o = new StringWriter();
        assertEquals(0, run(o, e, "train", "@" + args, "--steps", "5", "--resume"), e.toString());
        assertTrue(o.toString().contains("trained 5 steps (10 examples)"), o.toString());
        log = new ObjectMapper().readTree(Files.readAllBytes(out.resolve(Trainer.LOG_FILE)));
        assertEquals(5, log.get("steps").size());
        assertEquals(List.of(4L, 5L), ck.list().stream().map(Checkpoints::stepOf).toList());
        Map<String, Tensor> fin = Safetensors.readAll(out.resolve(Trainer.FINAL_MODEL));
        Map<String, Tensor> last = Safetensors.readAll(ck.latest().orElseThrow().resolve(Checkpoints.MODEL));
        for (String n : fin.keySet()) assertArrayEquals(last.get(n).toFloatArray(), fin.get(n).toFloatArray(), 0f, n);

        // resuming with another batch size is refused
        e = new StringWriter();
        assertEquals(2, run(new StringWriter(), e, "train", "@" + args, "--steps", "6", "--resume", "--batch", "1"));
        assertTrue(e.toString().contains("--batch 2"), e.toString());
    }

    @Test
    void matchingInitialisationAddsTheIdentityToQueryAndKey(@TempDir Path dir) throws Exception {
        SyntheticTrainingSet set = SyntheticTrainingSet.write(dir.resolve("data"), 3);
        Map<String, Map<String, Tensor>> weights = new java.util.HashMap<>();
        for (String init : List.of("random", "matching")) {
            List<String> a = new ArrayList<>(List.of("train"));
            a.addAll(set.dataArgs());
            // one step at learning rate 0 (first warm-up step): the saved weights are the initial ones
            a.addAll(List.of("--out", dir.resolve(init).toString(), "--init", init, "--matching-gain", "0.5",
                    "--steps", "1", "--warmup", "2", "--batch", "2", "--accumulate", "1", "--seed", "3",
                    "--checkpoint-every", "0"));
            StringWriter e = new StringWriter();
            assertEquals(0, run(new StringWriter(), e, a.toArray(new String[0])), e.toString());
            weights.put(init, Safetensors.readAll(dir.resolve(init).resolve(Trainer.FINAL_MODEL)));
        }
        int identities = 0;
        for (Map.Entry<String, Tensor> t : weights.get("random").entrySet()) {
            float[] r = t.getValue().toFloatArray();
            float[] m = weights.get("matching").get(t.getKey()).toFloatArray();
            boolean qk = t.getKey().matches(".*attention\\.self\\.(query|key|query_global|key_global)\\.weight");
            long e = qk ? t.getValue().shape()[0] : 0;
            for (int i = 0; i < r.length; i++) {
                float want = qk && i / e == i % e ? 0.5f : 0f;
                assertEquals(want, m[i] - r[i], 1e-6f, t.getKey() + "[" + i + "]");
            }
            if (qk) identities++;
        }
        assertTrue(identities >= 4, "query/key projections found: " + identities);
    }

    @Test
    void badInputIsOneLineError(@TempDir Path dir) throws Exception {
        SyntheticTrainingSet set = SyntheticTrainingSet.write(dir.resolve("data"), 4);
        List<String> a = new ArrayList<>(List.of("train"));
        a.addAll(set.dataArgs());
        a.addAll(List.of("--out", dir.resolve("run").toString(), "--steps", "1", "--init", "hf"));
        StringWriter e = new StringWriter();
        assertEquals(2, run(new StringWriter(), e, a.toArray(new String[0])));
        assertTrue(e.toString().startsWith("error: --init hf needs --weights"), e.toString());

        Path notWeights = dir.resolve("w.safetensors");
        Files.writeString(notWeights, "not a safetensors file");
        a.addAll(List.of("--weights", notWeights.toString()));
        e = new StringWriter();
        assertEquals(2, run(new StringWriter(), e, a.toArray(new String[0])));
        assertTrue(e.toString().startsWith("error: " + notWeights), e.toString());
    }
}
