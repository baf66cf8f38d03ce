package org.locore.apps;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.Safetensors;
import org.locore.testing.Fixtures;

import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code locore score} on the {@code locore_tiny_a} fixture. */
class ScoreTest {
    @TempDir
    Path tmp;

    @Test
    void reproducesTheExpectedOutputs() throws Exception {
        check(Fixtures.path("locore/locore_tiny_a.json"));
    }

    @Test
    void acceptsAPlainLongformerConfig() throws Exception {
        // the HF config alone (the fixture JSON's 'config' object)
        com.fasterxml.jackson.databind.ObjectMapper m = new com.fasterxml.jackson.databind.ObjectMapper();
        Path plain = tmp.resolve("config.json");
        m.writeValue(plain.toFile(), m.readTree(Fixtures.path("locore/locore_tiny_a.json").toFile()).get("config"));
        check(plain);
    }

    private void check(Path config) throws Exception {
        Path out = tmp.resolve("out.safetensors");
        CommandRunner.Run r = CommandRunner.run("score", "--config", config.toString(),
                "--weights", Fixtures.path("locore/locore_tiny_a.weights.safetensors").toString(),
                "--inputs", Fixtures.path("locore/locore_tiny_a.inputs.safetensors").toString(),
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        try (Safetensors st = Safetensors.open(out)) {
            assertEquals(Set.of("logits", "last_hidden_state", "score_max_end", "score_max_start", "score_max_sum"),
                    Set.copyOf(st.names()));
            for (String name : st.names()) {
                float[] expected = Fixtures.tensor("locore/locore_tiny_a.expected.safetensors", name).toFloatArray();
                float[] actual = st.get(name).toFloatArray();
                assertEquals(expected.length, actual.length, name);
                Fixtures.assertClose(expected, actual, 1e-4, name);
            }
        }
    }

    @Test
    void badInputsEndWithAMessage() {
        CommandRunner.Run r = CommandRunner.run("score", "--config", Fixtures.path("locore/locore_tiny_a.json").toString(),
                "--weights", Fixtures.path("locore/locore_tiny_a.weights.safetensors").toString(),
                "--inputs", Fixtures.path("locore/locore_tiny_a.weights.safetensors").toString(),
                "--out", tmp.resolve("x.safetensors").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("locore_tiny_a.weights.safetensors"), r.err());
    }
}
