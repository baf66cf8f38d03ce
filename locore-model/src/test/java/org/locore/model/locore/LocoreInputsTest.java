package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading re-ranking input batches, and the errors for broken ones. */
class LocoreInputsTest {
    static final String INPUTS = "locore/locore_tiny_a.inputs.safetensors";

    @TempDir
    Path tmp;

    @Test
    void readsFixtureBatch() throws IOException {
        LocoreInputs in = LocoreInputs.read(Fixtures.path(INPUTS));
        assertEquals(2, in.batch());
        assertEquals(5, in.descriptors());
        assertEquals(7, in.gallerySize());
        assertEquals(32, in.width());
        assertEquals(1L, in.galleryMask().getLong(0, 0, 2)); // a padding descriptor (fixture README convention)
    }

    @Test
    void misshapedOrMissingTensorsNameFileAndTensor() throws IOException {
        Map<String, Tensor> all = Safetensors.readAll(Fixtures.path(INPUTS));
        List<Tensor> bad = new ArrayList<>();
        for (Tensor t : all.values()) {
            if (t.name().equals("gallery_mask")) {
                bad.add(Tensor.ofLongs("gallery_mask", new long[]{2, 6, 5}, new long[60]));
            } else {
                bad.add(t);
            }
        }
        Path f = tmp.resolve("bad.safetensors");
        Safetensors.write(f, bad);
        FormatException e = assertThrows(FormatException.class, () -> LocoreInputs.read(f));
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("gallery_mask")
                && e.getMessage().contains("[2, 6, 5]"), e.getMessage());

        bad.removeIf(t -> t.name().equals("query_local"));
        Path g = tmp.resolve("missing.safetensors");
        Safetensors.write(g, bad);
        e = assertThrows(FormatException.class, () -> LocoreInputs.read(g));
        assertTrue(e.getMessage().contains("missing.safetensors") && e.getMessage().contains("query_local"),
                e.getMessage());
    }
}
