package org.locore.model.longformer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.model.locore.LocoreConfig;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading Longformer and LOCORE configurations from HF {@code config.json} files and the fixture JSON files. */
class LongformerConfigTest {
    @TempDir
    Path tmp;

    @Test
    void readsFixtureConfig() throws IOException {
        LongformerConfig c = LongformerConfig.read(Fixtures.path("locore/locore_tiny_a.json"));
        assertEquals(32, c.hiddenSize());
        assertEquals(2, c.numLayers());
        assertEquals(4, c.numHeads());
        assertEquals(8, c.headDim());
        assertEquals(64, c.intermediateSize());
        assertEquals(List.of(16, 16), c.attentionWindow());
        assertEquals(8, c.oneSidedWindow(1));
        assertEquals(130, c.maxPositions());
        assertEquals(1e-5, c.layerNormEps(), 0);
        assertEquals(0.1, c.hiddenDropout(), 0);
        assertEquals(0.1, c.attentionDropout(), 0);
        assertEquals(2, c.firstPosition());

        LocoreConfig lc = LocoreConfig.read(Fixtures.path("locore/locore_thin_real.json"));
        assertEquals(48, lc.descriptors());
        assertEquals(100, lc.gallerySize());
        assertTrue(lc.queryGlobalAttention());
        assertEquals(1, lc.layersKept());
        assertEquals(5122, lc.longformer().maxPositions());
        assertEquals(512, lc.longformer().maxAttentionWindow());
    }

    @Test
    void readsPlainHfConfigWithIntegerWindow() throws IOException {
        Path f = tmp.resolve("config.json");
        Files.writeString(f, "{\"hidden_size\": 24, \"num_hidden_layers\": 3, \"num_attention_heads\": 2,"
                + " \"intermediate_size\": 48, \"attention_window\": 8, \"max_position_embeddings\": 100,"
                + " \"layer_norm_eps\": 1e-6}");
        LongformerConfig c = LongformerConfig.read(f);
        assertEquals(List.of(8, 8, 8), c.attentionWindow());
        assertEquals(1e-6, c.layerNormEps(), 0);
        assertEquals(1, c.typeVocabSize());
        LocoreConfig lc = LocoreConfig.read(f);
        assertEquals(48, lc.descriptors());
        assertEquals(100, lc.gallerySize());
        assertEquals(3, lc.layersKept());
        assertEquals(2, lc.withLayersKept(2).layersKept());
    }

    @Test
    void perLayerWindowsAreKept() throws IOException {
        Path f = tmp.resolve("config.json");
        Files.writeString(f, "{\"config\": {\"hidden_size\": 8, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
                + " \"attention_window\": [4, 12], \"max_position_embeddings\": 40}}");
        LongformerConfig c = LongformerConfig.read(f);
        assertEquals(2, c.oneSidedWindow(0));
        assertEquals(6, c.oneSidedWindow(1));
        assertEquals(12, c.maxAttentionWindow());
        assertEquals(32, c.intermediateSize());
    }

    @Test
    void badConfigsNameFileAndProblem() throws IOException {
        Path missing = tmp.resolve("missing.json");
        Files.writeString(missing, "{\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"attention_window\": 4,"
                + " \"max_position_embeddings\": 40}");
        FormatException e = assertThrows(FormatException.class, () -> LongformerConfig.read(missing));
        assertTrue(e.getMessage().contains("missing.json") && e.getMessage().contains("hidden_size"), e.getMessage());

        Path windows = tmp.resolve("windows.json");
        Files.writeString(windows, "{\"hidden_size\": 8, \"num_hidden_layers\": 3, \"num_attention_heads\": 2,"
                + " \"attention_window\": [4, 4], \"max_position_embeddings\": 40}");
        e = assertThrows(FormatException.class, () -> LongformerConfig.read(windows));
        assertTrue(e.getMessage().contains("2 attention windows for 3 layers"), e.getMessage());

        Path odd = tmp.resolve("odd.json");
        Files.writeString(odd, "{\"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 3,"
                + " \"attention_window\": 4, \"max_position_embeddings\": 40}");
        e = assertThrows(FormatException.class, () -> LongformerConfig.read(odd));
        assertTrue(e.getMessage().contains("num_attention_heads"), e.getMessage());

        Path notJson = tmp.resolve("bad.json");
        Files.writeString(notJson, "{hidden");
        e = assertThrows(FormatException.class, () -> LongformerConfig.read(notJson));
        assertTrue(e.getMessage().contains("bad.json"));
        assertFalse(Files.exists(tmp.resolve("none.json")));
        assertThrows(FormatException.class, () -> LongformerConfig.read(tmp.resolve("none.json")));
    }
}
