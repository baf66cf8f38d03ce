package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Strict loading and saving of LOCORE checkpoints under the reference tensor names. */
class LocoreCheckpointTest {
    static final String WEIGHTS = "locore/locore_tiny_a.weights.safetensors";

    @TempDir
    Path tmp;

    @Test
    void saveWritesTheReferenceFileBackUnchanged() throws IOException {
        LocoreModel m = LocoreModelTest.model("locore/locore_tiny_a");
        assertEquals(53, m.parameters().size());
        assertEquals(3, m.numScales());
        Path out = tmp.resolve("model.safetensors");
        m.save(out);
        assertArrayEquals(Files.readAllBytes(Fixtures.path(WEIGHTS)), Files.readAllBytes(out));
    }

    @Test
    void reportsMissingUnexpectedAndMisshapedTogether() throws IOException {
        Map<String, Tensor> all = Safetensors.readAll(Fixtures.path(WEIGHTS));
        List<Tensor> broken = new ArrayList<>();
        for (Tensor t : all.values()) {
            if (t.name().equals("language_model.longformer.encoder.layer.1.output.dense.bias")) continue; // missing
            if (t.name().equals("language_model.classifier.weight")) {
                broken.add(Tensor.ofFloats(t.name(), new long[]{3, 32}, new float[96])); // wrong shape
                continue;
            }
            broken.add(t);
        }
        broken.add(Tensor.ofFloats("language_model.lm_head.bias", new long[]{2}, new float[2])); // unexpected
        Path f = tmp.resolve("broken.safetensors");
        Safetensors.write(f, broken);
        LocoreConfig cfg = LocoreConfig.read(Fixtures.path("locore/locore_tiny_a.json"));
        FormatException e = assertThrows(FormatException.class, () -> LocoreModel.load(f, cfg));
        String msg = e.getMessage();
        assertTrue(msg.contains("broken.safetensors"), msg);
        assertTrue(msg.contains("missing 1 tensors [language_model.longformer.encoder.layer.1.output.dense.bias]"), msg);
        assertTrue(msg.contains("unexpected 1 tensors [language_model.lm_head.bias]"), msg);
        assertTrue(msg.contains("language_model.classifier.weight is F32[3, 32], expected [2, 32]"), msg);
    }

    @Test
    void wrongConfigurationIsReported() throws IOException {
        LocoreConfig thin = LocoreConfig.read(Fixtures.path("locore/locore_thin_real.json"));
        FormatException e = assertThrows(FormatException.class,
                () -> LocoreModel.load(Fixtures.path(WEIGHTS), thin));
        assertTrue(e.getMessage().contains("unexpected") && e.getMessage().contains("expected [5122, 64]"),
                e.getMessage());
    }

    @Test
    void createChecksNamesAndShapes() throws IOException {
        LocoreModel m = LocoreModelTest.model("locore/locore_tiny_a");
        Map<String, org.nd4j.linalg.api.ndarray.INDArray> params = new java.util.LinkedHashMap<>(m.parameters());
        LocoreModel copy = LocoreModel.create(m.config(), params);
        assertEquals(m.parameters().keySet(), copy.parameters().keySet());
        params.remove(LocoreModel.PAD_EMBEDDING);
        params.put("extra", org.nd4j.linalg.factory.Nd4j.zeros(2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LocoreModel.create(m.config(), params));
        assertTrue(e.getMessage().contains("missing " + LocoreModel.PAD_EMBEDDING)
                && e.getMessage().contains("unexpected extra"), e.getMessage());
    }
}
