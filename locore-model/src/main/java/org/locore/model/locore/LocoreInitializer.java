package org.locore.model.locore;

import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Fresh LOCORE parameters: a seeded random initialisation as HF {@code _init_weights} (linear and embedding
 * weights ~ N(0, 0.02), biases 0, LayerNorm 1/0), or a HuggingFace Longformer checkpoint for the encoder with the
 * LOCORE-only tensors (scale embedding, SEP and pad vectors, classifier) initialised randomly. A Longformer with
 * fewer position rows than the configuration needs is extended by the Longformer long-model recipe: rows 0 and 1
 * kept, rows {@code 2..} copied again and again.
 */
public final class LocoreInitializer {
    private static final Logger LOG = LoggerFactory.getLogger(LocoreInitializer.class);
    /** Standard deviation of the normal initialisation (HF {@code initializer_range}). */
    public static final double INIT_STD = 0.02;

    private LocoreInitializer() {
    }

    /**
     * All parameters random (seeded, reproducible).
     *
     * @param numScales rows of the scale embedding
     */
    public static LocoreModel random(LocoreConfig config, int numScales, long seed) {
        return LocoreModel.create(config, randomParameters(config, numScales, seed));
    }

    /**
     * The {@link #random} parameters with {@code gain x identity} added to the query and key projections (local and
     * global) of every layer, so that from the first step attention weights tokens by the similarity of their
     * (normalised) descriptors: the descriptor-matching behaviour that a pretrained Longformer's heads give the
     * released recipe a start on. Everything else, values, outputs, FFNs, the classifier, is random as in
     * {@link #random}. Used by the demo, which has no pretrained Longformer to start from.
     *
     * @param gain the identity's weight (0 gives {@link #random}); 1 makes the attention logits of two equal
     *             unit-variance tokens about {@code hidden / (heads * sqrt(hidden / heads))}
     */
    public static LocoreModel matching(LocoreConfig config, int numScales, long seed, double gain) {
        if (!(gain >= 0) || Double.isInfinite(gain)) {
            throw new IllegalArgumentException("the matching gain must be a finite number >= 0, got " + gain);
        }
        Map<String, INDArray> params = randomParameters(config, numScales, seed);
        String[] projections = {"query", "key", "query_global", "key_global"};
        for (int l = 0; l < config.longformer().numLayers(); l++) {
            for (String proj : projections) {
                INDArray w = params.get(attentionWeight(l, proj));
                if (w == null) throw new IllegalStateException("no " + attentionWeight(l, proj));
                w.addi(Nd4j.eye(w.size(0)).castTo(w.dataType()).muli(gain));
            }
        }
        return LocoreModel.create(config, params);
    }

    private static String attentionWeight(int layer, String projection) {
        return LocoreModel.ENCODER_PREFIX + "encoder.layer." + layer + ".attention.self." + projection + ".weight";
    }

    private static Map<String, INDArray> randomParameters(LocoreConfig config, int numScales, long seed) {
        if (numScales < 1) throw new IllegalArgumentException("need at least one scale, got " + numScales);
        Random rng = new Random(seed);
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : LocoreModel.expectedShapes(config.longformer()).entrySet()) {
            long[] shape = e.getValue().clone();
            if (shape[0] < 0) shape[0] = numScales;
            out.put(e.getKey(), init(e.getKey(), shape, rng));
        }
        return out;
    }

    private static INDArray init(String name, long[] shape, Random rng) {
        if (name.contains("LayerNorm.weight")) return Nd4j.ones(DataType.FLOAT, shape);
        if (name.endsWith(".bias")) return Nd4j.zeros(DataType.FLOAT, shape);
        long n = 1;
        for (long s : shape) n *= s;
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextGaussian() * INIT_STD);
        return Nd4j.createFromArray(v).reshape('c', shape);
    }

    /**
     * The encoder from a HuggingFace Longformer {@code model.safetensors} (tensor names {@code embeddings.*},
     * {@code encoder.*}, optionally under {@code longformer.}); word embeddings, pooler and LM head are ignored,
     * missing {@code *_global} projections are copied from the local ones, and the position table is extended
     * (or cut) to the configuration's {@code max_position_embeddings}. Everything else is random (seeded).
     *
     * @throws FormatException naming the file and the missing or mis-shaped tensors
     */
    public static LocoreModel fromLongformer(Path file, LocoreConfig config, int numScales, long seed)
            throws IOException {
        Map<String, INDArray> params = randomParameters(config, numScales, seed);
        Map<String, long[]> expected = LocoreModel.expectedShapes(config.longformer());
        Map<String, Tensor> hf = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : Safetensors.readAll(file).entrySet()) {
            String name = e.getKey();
            if (name.startsWith("longformer.")) name = name.substring("longformer.".length());
            hf.put(name, e.getValue());
        }
        List<String> missing = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        int loaded = 0;
        for (String target : expected.keySet()) {
            if (!target.startsWith(LocoreModel.ENCODER_PREFIX)) continue;
            String name = target.substring(LocoreModel.ENCODER_PREFIX.length());
            if (!name.startsWith("embeddings.") && !name.startsWith("encoder.")) continue; // sep / pad vectors
            Tensor t = hf.get(name);
            if (t == null && name.contains("_global.")) t = hf.get(name.replace("_global.", "."));
            if (t == null) {
                missing.add(name);
                continue;
            }
            long[] want = expected.get(target);
            INDArray a = t.toINDArray(DataType.FLOAT);
            if (name.equals("embeddings.position_embeddings.weight") && a.rank() == 2 && a.size(1) == want[1]) {
                a = extendPositions(a, (int) want[0], config.longformer().firstPosition());
            }
            if (!Arrays.equals(a.shape(), want)) {
                misshaped.add(name + " is " + Arrays.toString(a.shape()) + ", expected " + Arrays.toString(want));
                continue;
            }
            params.put(target, a);
            loaded++;
        }
        if (!missing.isEmpty() || !misshaped.isEmpty()) {
            StringBuilder sb = new StringBuilder("not a Longformer checkpoint for this configuration (hidden "
                    + config.longformer().hiddenSize() + ", " + config.longformer().numLayers() + " layers):");
            if (!missing.isEmpty()) sb.append(" missing ").append(missing.size()).append(" tensors ").append(missing).append(';');
            if (!misshaped.isEmpty()) sb.append(" wrong shape: ").append(misshaped).append(';');
            throw new FormatException(file, sb.substring(0, sb.length() - 1));
        }
        LOG.info("initialised {} encoder tensors from {}", loaded, file);
        return LocoreModel.create(config, params);
    }

    /**
     * A position table with {@code rows} rows: rows below {@code first} kept, the rest filled by copying the
     * source rows {@code first..} in turn (the Longformer long-model recipe); a longer table is cut.
     */
    public static INDArray extendPositions(INDArray table, int rows, int first) {
        int have = (int) table.size(0);
        long e = table.size(1);
        if (have >= rows) return table.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, rows),
                org.nd4j.linalg.indexing.NDArrayIndex.all()).dup();
        if (have <= first) {
            throw new IllegalArgumentException("a position table of " + have + " rows has nothing to copy from row "
                    + first);
        }
        INDArray out = Nd4j.create(DataType.FLOAT, rows, e);
        for (int r = 0; r < rows; r++) {
            int src = r < first ? r : first + (r - first) % (have - first);
            out.putRow(r, table.getRow(src));
        }
        return out;
    }
}
