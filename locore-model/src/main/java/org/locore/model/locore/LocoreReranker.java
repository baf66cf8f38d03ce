package org.locore.model.locore;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The small public API of the re-ranker: load a released (or Java-trained) LOCORE model, give it one query and a
 * list of shortlisted gallery images with their global similarities, get every image's LOCORE logit, its fused
 * score and the re-ranked order. Features are plain arrays, so they can come from memory or from any reader.
 *
 * <pre>{@code
 * LocoreReranker reranker = LocoreReranker.load(Path.of("config.json"), Path.of("model.safetensors"));
 * LocoreReranker.Result r = reranker.rerank(query, gallery, similarities);
 * int best = r.order()[0];            // index into `gallery` of the new top image
 * double s = r.fused()[best];         // alpha * similarity + (1 - alpha) * sigmoid(temp * logit)
 * }</pre>
 *
 * <p>Not thread-safe (one instance per thread), like {@link LocoreModel}.
 */
public final class LocoreReranker {
    private final LocoreModel model;
    private final Fusion fusion;
    private final ScoreMode mode;

    /** Wraps a model with a fusion rule and a score mode. */
    public LocoreReranker(LocoreModel model, Fusion fusion, ScoreMode mode) {
        this.model = Objects.requireNonNull(model);
        this.fusion = Objects.requireNonNull(fusion);
        this.mode = Objects.requireNonNull(mode);
    }

    /**
     * Loads a model: {@code config} is a HF Longformer {@code config.json} or a JSON object whose {@code config}
     * key holds one (see {@link LocoreConfig#read}); {@code weights} a LOCORE {@code model.safetensors}. Uses the
     * released fusion (alpha 0.5, temperature 0.1) and the {@code max-end} score.
     */
    public static LocoreReranker load(Path config, Path weights) throws IOException {
        return new LocoreReranker(LocoreModel.load(weights, LocoreConfig.read(config)), Fusion.released(),
                ScoreMode.MAX_END);
    }

    /** The same model with another fusion rule. */
    public LocoreReranker withFusion(Fusion f) {
        return new LocoreReranker(model, f, mode);
    }

    /** The same model with another score mode. */
    public LocoreReranker withScoreMode(ScoreMode m) {
        return new LocoreReranker(model, fusion, m);
    }

    public LocoreModel model() {
        return model;
    }

    public Fusion fusion() {
        return fusion;
    }

    /**
     * One image as the re-ranker reads it: its global descriptor and its first D local descriptors (strongest
     * first), with their scale indices and padding flags (true = padding row, as the HDF5 mask column).
     *
     * @param global  {@code [E]}
     * @param locals  {@code [D * E]}, row-major
     * @param scales  {@code [D]}
     * @param padding {@code [D]}
     */
    public record Image(float[] global, float[] locals, int[] scales, boolean[] padding) {
        /** Checks the lengths agree. */
        public Image {
            int d = scales.length;
            if (padding.length != d || global.length == 0 || locals.length != d * global.length) {
                throw new IllegalArgumentException("image arrays disagree: global " + global.length + ", locals "
                        + locals.length + ", scales " + d + ", padding " + padding.length);
            }
        }

        /** Descriptors per image D. */
        public int descriptors() {
            return scales.length;
        }
    }

    /**
     * The re-ranking of one query's gallery.
     *
     * @param logits the LOCORE score of each gallery image (its class-1 logit under the score mode)
     * @param fused  the fused score of each gallery image
     * @param order  gallery indices sorted by fused score, best first (ties keep the input order)
     */
    public record Result(double[] logits, double[] fused, int[] order) {
    }

    /**
     * Scores a query against K gallery images (all with the same D and E) in one sequence and re-ranks them.
     *
     * @param similarities the shortlist (global) similarity of each gallery image
     */
    public Result rerank(Image query, List<Image> gallery, double[] similarities) {
        int k = gallery.size();
        if (k == 0) throw new IllegalArgumentException("empty gallery");
        if (similarities.length != k) {
            throw new IllegalArgumentException(k + " gallery images but " + similarities.length + " similarities");
        }
        int d = query.descriptors();
        int e = query.global().length;
        for (int i = 0; i < k; i++) {
            Image g = gallery.get(i);
            if (g.descriptors() != d || g.global().length != e) {
                throw new IllegalArgumentException("gallery image " + i + " has D=" + g.descriptors() + ", E="
                        + g.global().length + " but the query has D=" + d + ", E=" + e);
            }
        }
        float[] gl = new float[k * d * e];
        float[] gg = new float[k * e];
        long[] gs = new long[k * d];
        long[] gm = new long[k * d];
        for (int i = 0; i < k; i++) {
            Image g = gallery.get(i);
            System.arraycopy(g.locals(), 0, gl, i * d * e, d * e);
            System.arraycopy(g.global(), 0, gg, i * e, e);
            for (int r = 0; r < d; r++) {
                gs[i * d + r] = g.scales()[r];
                gm[i * d + r] = g.padding()[r] ? 1 : 0;
            }
        }
        long[] qs = new long[d];
        long[] qm = new long[d];
        for (int r = 0; r < d; r++) {
            qs[r] = query.scales()[r];
            qm[r] = query.padding()[r] ? 1 : 0;
        }
        LocoreInputs in = new LocoreInputs(
                Nd4j.createFromArray(query.locals()).reshape(1, d, e), Nd4j.createFromArray(qs).reshape(1, d),
                Nd4j.createFromArray(qm).reshape(1, d), Nd4j.createFromArray(query.global()).reshape(1, 1, e),
                Nd4j.createFromArray(gl).reshape(1, k, d, e), Nd4j.createFromArray(gs).reshape(1, k, d),
                Nd4j.createFromArray(gm).reshape(1, k, d), Nd4j.createFromArray(gg).reshape(1, k, 1, e), null);
        INDArray scores = model.forward(in).scores(mode);
        double[] logits = new double[k];
        double[] fused = new double[k];
        for (int i = 0; i < k; i++) {
            logits[i] = scores.getDouble(0, i);
            fused[i] = fusion.fuse(similarities[i], logits[i]);
        }
        return new Result(logits, fused, order(fused));
    }

    /** Indices sorted by descending score, ties in input order. */
    static int[] order(double[] scores) {
        Integer[] idx = new Integer[scores.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Double.compare(scores[b], scores[a]));
        return Arrays.stream(idx).mapToInt(Integer::intValue).toArray();
    }
}
