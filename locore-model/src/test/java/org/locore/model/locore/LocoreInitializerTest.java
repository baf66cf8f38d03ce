package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.locore.model.io.DType;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Random initialisation and initialisation from a HF Longformer checkpoint (position extension). */
class LocoreInitializerTest {

    @Test
    void extendsPositionsByCopyingRowsFromTwo() {
        INDArray t = Nd4j.createFromArray(new float[][]{{0}, {1}, {2}, {3}, {4}});
        INDArray x = LocoreInitializer.extendPositions(t, 9, 2);
        assertArrayEquals(new float[]{0, 1, 2, 3, 4, 2, 3, 4, 2}, x.reshape(9).toFloatVector());
        assertArrayEquals(new float[]{0, 1, 2}, LocoreInitializer.extendPositions(t, 3, 2).reshape(3).toFloatVector());
    }

    @Test
    void randomIsSeededAndShaped() throws IOException {
        LocoreConfig cfg = LocoreConfig.read(Fixtures.path("locore/locore_tiny_a.json"));
        LocoreModel a = LocoreInitializer.random(cfg, 3, 7);
        LocoreModel b = LocoreInitializer.random(cfg, 3, 7);
        LocoreModel c = LocoreInitializer.random(cfg, 3, 8);
        String w = LocoreModel.CLASSIFIER_WEIGHT;
        assertEquals(a.parameters().get(w), b.parameters().get(w));
        assertNotEquals(a.parameters().get(w), c.parameters().get(w));
        assertEquals(3, a.numScales());
        double std = a.parameters().get(LocoreModel.ENCODER_PREFIX + "encoder.layer.0.intermediate.dense.weight")
                .stdNumber().doubleValue();
        assertEquals(0.02, std, 0.002);
        assertEquals(1.0, a.parameters().get(LocoreModel.ENCODER_PREFIX + "embeddings.LayerNorm.weight").minNumber().doubleValue());
    }

    @Test
    void matchingAddsTheIdentityToQueryAndKeyProjectionsOnly() throws IOException {
        LocoreConfig cfg = LocoreConfig.read(Fixtures.path("locore/locore_tiny_a.json"));
        LocoreModel r = LocoreInitializer.random(cfg, 3, 7);
        LocoreModel m = LocoreInitializer.matching(cfg, 3, 7, 0.75);
        int changed = 0;
        for (Map.Entry<String, INDArray> e : r.parameters().entrySet()) {
            String name = e.getKey();
            INDArray diff = m.parameters().get(name).sub(e.getValue());
            boolean qk = name.matches(".*attention\\.self\\.(query|key|query_global|key_global)\\.weight");
            if (qk) {
                changed++;
                INDArray eye = Nd4j.eye(diff.size(0)).castTo(diff.dataType()).muli(0.75);
                assertEquals(0.0, diff.sub(eye).amaxNumber().doubleValue(), 1e-7, name);
            } else {
                assertEquals(0.0, diff.amaxNumber().doubleValue(), 0.0, name);
            }
        }
        assertEquals(4 * cfg.longformer().numLayers(), changed);
        LocoreModel zero = LocoreInitializer.matching(cfg, 3, 7, 0);
        for (Map.Entry<String, INDArray> e : r.parameters().entrySet()) {
            assertEquals(e.getValue(), zero.parameters().get(e.getKey()), e.getKey());
        }
        assertThrows(IllegalArgumentException.class, () -> LocoreInitializer.matching(cfg, 3, 7, -1));
        assertThrows(IllegalArgumentException.class, () -> LocoreInitializer.matching(cfg, 3, 7, Double.NaN));
    }

    @Test
    void loadsHuggingFaceLongformer(@TempDir Path dir) throws IOException {
        LocoreConfig cfg = LocoreConfig.read(Fixtures.path("locore/locore_tiny_a.json"));
        Map<String, Tensor> ref = Safetensors.readAll(Fixtures.path("locore/locore_tiny_a.weights.safetensors"));
        // a plain HF LongformerModel-style file: longformer.* names, word embeddings and pooler, 10 positions,
        // no *_global projections (copied from the local ones)
        List<Tensor> hf = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : ref.entrySet()) {
            String n = e.getKey();
            if (!n.startsWith(LocoreModel.ENCODER_PREFIX + "e")) continue;
            if (n.contains("_global.")) continue;
            String hn = "longformer." + n.substring(LocoreModel.ENCODER_PREFIX.length());
            Tensor t = e.getValue();
            if (n.endsWith("position_embeddings.weight")) {
                INDArray a = t.toINDArray().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 10),
                        org.nd4j.linalg.indexing.NDArrayIndex.all()).dup();
                t = Tensor.of(hn, a, DType.F32);
            }
            hf.add(new Tensor(hn, t.dtype(), t.shape(), t.bytes()));
        }
        hf.add(Tensor.ofFloats("longformer.embeddings.word_embeddings.weight", new long[]{8, 32}, new float[256]));
        hf.add(Tensor.ofFloats("longformer.pooler.dense.bias", new long[]{32}, new float[32]));
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, hf);

        LocoreModel m = LocoreInitializer.fromLongformer(file, cfg, 3, 1);
        String q = LocoreModel.ENCODER_PREFIX + "encoder.layer.1.attention.self.query.weight";
        assertEquals(ref.get(q).toINDArray(), m.parameters().get(q));
        assertEquals(ref.get(q).toINDArray(), m.parameters().get(q.replace("query.", "query_global.")));
        INDArray pos = m.parameters().get(LocoreModel.ENCODER_PREFIX + "embeddings.position_embeddings.weight");
        INDArray src = ref.get(LocoreModel.ENCODER_PREFIX + "embeddings.position_embeddings.weight").toINDArray();
        assertEquals(130, pos.size(0));
        assertEquals(src.getRow(9), pos.getRow(9));
        assertEquals(src.getRow(2), pos.getRow(10));
        assertEquals(src.getRow(3), pos.getRow(3 + 8 * 2)); // rows 2..9 repeat with period 8
        assertEquals(src.getRow(5), pos.getRow(5 + 8 * 15));

        Path broken = dir.resolve("broken.safetensors");
        Safetensors.write(broken, hf.subList(0, 3));
        FormatException e = assertThrows(FormatException.class, () -> LocoreInitializer.fromLongformer(broken, cfg, 3, 1));
        assertTrue(e.getMessage().contains("missing") && e.getMessage().contains(broken.toString()), e.getMessage());
    }
}
