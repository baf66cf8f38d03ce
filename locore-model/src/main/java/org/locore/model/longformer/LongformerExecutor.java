package org.locore.model.longformer;

import org.locore.model.rowops.RowOps;
import org.locore.model.rowops.Workers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

/**
 * Runs {@link LongformerEncoder}'s computation eagerly on ND4J arrays for inference (no dropout, no gradients):
 * the same operations as the SameDiff graph on the same parameter arrays (read by name on every run, so in-place
 * updates are seen), with fewer and larger steps. Per layer: one fused 2-D GEMM {@code [B*n, E] x [E, 5E]} for the
 * query, key, value, global-key and global-value projections; the global query projection only for the global
 * rows; banded attention in jobs of (head, block of {@code w} queries) on parallel Java threads with
 * single-threaded GEMMs ({@link Workers#jobs}): the block's scores against the G global keys and against its
 * {@code 3w} window keys (a view of the padded per-head keys, no copy) by two GEMMs into per-thread buffers, the
 * window bias and {@code exp(s - max)} per row in Java, the values by two GEMMs into per-thread buffers, summed
 * and divided by the row sums into the head's output rows (the softmax's normalisation on {@code d} instead of
 * {@code G + 3w} columns);
 * the global rows against all keys, batched over heads; output projection and FFN as 2-D GEMMs into reused
 * buffers. The element-wise steps (bias adds, head split and merge, residual + LayerNorm, bias + exact GELU, the
 * softmax's exponentials) are the row kernels of {@link RowOps} (SIMD through the JDK's Vector API when the JVM
 * runs with {@code --add-modules jdk.incubator.vector}, scalar Java otherwise), split over the ND4J thread count.
 * Temporaries' native memory is released at once, so the peak stays near the working set (under 2 GB at
 * LOCORE-base size).
 *
 * <p>{@link Attention#DENSE} replaces the banded attention by full {@code n x n} attention with the same masks
 * (band, global keys, padding), for comparison in benchmarks only: it needs O(n^2) memory.
 *
 * <p>Not thread-safe.
 */
public final class LongformerExecutor {
    /** How local rows attend. */
    public enum Attention {
        /** Blocks of w queries against their 3w-key window plus the global keys (O(n w) memory). */
        BANDED,
        /** Full n x n scores with the band and global keys as an additive mask (benchmark comparison only). */
        DENSE
    }

    private static final Logger LOG = LoggerFactory.getLogger(LongformerExecutor.class);
    private static final AtomicBoolean SCALAR_NOTED = new AtomicBoolean();

    private final LongformerConfig c;
    private final int layers;
    private final String prefix;
    private final Function<String, INDArray> param;
    private final Attention attention;
    private final RowOps ops;
    /** Seconds per stage, accumulated over all runs of this executor. */
    private final Map<String, Double> stageSeconds = new LinkedHashMap<>();
    private long mark;

    /**
     * @param c         configuration
     * @param layers    layers to run (the first ones)
     * @param prefix    parameter-name prefix (as for {@link LongformerEncoder#build})
     * @param param     the parameter array by full name (PyTorch layout, float32)
     * @param attention banded (the model) or dense (comparison)
     */
    public LongformerExecutor(LongformerConfig c, int layers, String prefix, Function<String, INDArray> param,
                              Attention attention) {
        this(c, layers, prefix, param, attention, RowOps.best());
    }

    /**
     * As {@link #LongformerExecutor(LongformerConfig, int, String, Function, Attention)} with the given row kernels
     * (tests compare the SIMD and scalar ones).
     */
    LongformerExecutor(LongformerConfig c, int layers, String prefix, Function<String, INDArray> param,
                       Attention attention, RowOps ops) {
        this.ops = ops;
        if (!RowOps.VECTOR_API && !SCALAR_NOTED.getAndSet(true)) {
            LOG.info("jdk.incubator.vector is not enabled: the Longformer's element-wise kernels run in scalar Java "
                    + "(add --add-modules jdk.incubator.vector to the java command for the SIMD ones)");
        }
        this.c = c;
        this.layers = layers;
        this.prefix = prefix;
        this.param = param;
        this.attention = attention;
    }

    private INDArray p(String name) {
        INDArray a = param.apply(prefix + name);
        if (a == null) {
            throw new IllegalArgumentException("no parameter " + prefix + name);
        }
        return a;
    }

    /**
     * Wall-clock seconds per stage (embeddings, projections, head layout, window attention, global attention,
     * output projection, FFN GEMMs, GELU, LayerNorms), summed over all runs of this executor: a profile.
     */
    public Map<String, Double> stageSeconds() {
        return new LinkedHashMap<>(stageSeconds);
    }

    private void lap(String stage) {
        long now = System.nanoTime();
        stageSeconds.merge(stage, (now - mark) / 1e9, Double::sum);
        mark = now;
    }

    /** Per-batch-row mask data for one window size (also used by {@link LongformerBackprop}). */
    static final class RowMasks {
        final BandedAttention.Masks masks;
        final int[][] globalIdx;
        final INDArray[] localRows;
        final INDArray[] keyBias;
        /** {@link #localRows} and {@link #keyBias} as Java arrays (for the row kernels). */
        final float[][] localRowsF;
        final float[][] keyBiasF;
        final Map<Integer, INDArray> dense = new HashMap<>();

        RowMasks(BandedAttention.Masks masks, int[][] attention, int[][] global) {
            this.masks = masks;
            int b = attention.length;
            int n = attention[0].length;
            globalIdx = new int[b][];
            localRows = new INDArray[b];
            keyBias = new INDArray[b];
            localRowsF = new float[b][];
            keyBiasF = new float[b][];
            for (int r = 0; r < b; r++) {
                int count = 0;
                for (int j = 0; j < n; j++) {
                    if (attention[r][j] != 0 && global[r][j] != 0) count++;
                }
                globalIdx[r] = new int[count];
                count = 0;
                for (int j = 0; j < n; j++) {
                    if (attention[r][j] != 0 && global[r][j] != 0) globalIdx[r][count++] = j;
                }
                localRows[r] = masks.localRowsArray().get(point(r), all(), all()).reshape(n, 1);
                keyBias[r] = masks.globalKeyBiasArray().get(point(r), point(0), point(0), all()).reshape(1, n);
                localRowsF[r] = localRows[r].toFloatVector();
                keyBiasF[r] = keyBias[r].toFloatVector();
            }
        }
    }

    /**
     * Runs the encoder.
     *
     * @param inputsEmbeds  {@code [B, n, E]}
     * @param attentionMask {@code [B][n]}, 1 = attend
     * @param globalMask    {@code [B][n]}, 1 = global
     * @param globalSlots   global slots G of the masks (as for {@link BandedAttention.Masks#of}), or -1
     * @return the last hidden state {@code [B, n, E]}
     */
    public INDArray run(INDArray inputsEmbeds, int[][] attentionMask, int[][] globalMask, int globalSlots) {
        int b = (int) inputsEmbeds.size(0);
        int n = (int) inputsEmbeds.size(1);
        int e = c.hiddenSize();
        int bn = b * n;
        if (c.firstPosition() + n > c.maxPositions()) {
            throw new IllegalArgumentException("sequence of " + n + " tokens needs positions up to "
                    + (c.firstPosition() + n - 1) + " but the table has " + c.maxPositions() + " rows");
        }
        float eps = (float) c.layerNormEps();
        int threads = Workers.count();
        mark = System.nanoTime();
        INDArray x = Nd4j.create(DataType.FLOAT, bn, e);
        x.assign(inputsEmbeds.castTo(DataType.FLOAT).reshape(bn, e));
        INDArray pos = p("embeddings.position_embeddings.weight")
                .get(interval(c.firstPosition(), c.firstPosition() + n), all()).dup('c');
        x.reshape(b, (long) n * e).addiRowVector(pos.reshape(1, (long) n * e));
        free(pos);
        x.addiRowVector(p("embeddings.token_type_embeddings.weight").getRow(0).dup());
        Rows rowBufs = new Rows(threads, Math.max(Math.max(5 * e, c.intermediateSize()), n));
        layerNorm(rowBufs, x, null, null, vec("embeddings.LayerNorm.weight"), vec("embeddings.LayerNorm.bias"), eps);
        lap("embeddings");

        Map<Integer, RowMasks> masksByWindow = new HashMap<>();
        Map<Integer, LayerBuffers> buffersByWindow = new HashMap<>();
        INDArray proj = Nd4j.create(DataType.FLOAT, bn, 5L * e);
        INDArray attn = Nd4j.create(DataType.FLOAT, bn, e);
        INDArray a = Nd4j.create(DataType.FLOAT, bn, e);
        INDArray mlp = Nd4j.create(DataType.FLOAT, bn, c.intermediateSize());
        for (int l = 0; l < layers; l++) {
            int w = c.oneSidedWindow(l);
            RowMasks rm = masksByWindow.computeIfAbsent(w, ww -> new RowMasks(
                    BandedAttention.Masks.of(attentionMask, globalMask, ww, globalSlots, DataType.FLOAT),
                    attentionMask, globalMask));
            lap("masks");
            String s = "encoder.layer." + l + ".attention.self.";
            INDArray w5 = Nd4j.concat(0, p(s + "query.weight"), p(s + "key.weight"), p(s + "value.weight"),
                    p(s + "key_global.weight"), p(s + "value_global.weight"));
            float[] b5 = concat(vec(s + "query.bias"), vec(s + "key.bias"), vec(s + "value.bias"),
                    vec(s + "key_global.bias"), vec(s + "value_global.bias"));
            Nd4j.gemm(x, w5, proj, false, true, 1.0, 0.0);
            free(w5);
            lap("qkv+global k,v projection (1 GEMM)");
            LayerBuffers buf = buffersByWindow.computeIfAbsent(w, ww -> new LayerBuffers(c, n, ww, rm.masks.globals(),
                    attention == Attention.BANDED, threads));
            for (int r = 0; r < b; r++) {
                attend(proj, b5, x, r, rm, buf, rowBufs, p(s + "query_global.weight"), p(s + "query_global.bias"),
                        attn);
            }
            String o = "encoder.layer." + l + ".";
            Nd4j.gemm(attn, p(o + "attention.output.dense.weight"), a, false, true, 1.0, 0.0);
            lap("attention output projection");
            layerNorm(rowBufs, x, a, vec(o + "attention.output.dense.bias"), vec(o + "attention.output.LayerNorm.weight"),
                    vec(o + "attention.output.LayerNorm.bias"), eps);
            lap("bias + residual + LayerNorm");
            Nd4j.gemm(x, p(o + "intermediate.dense.weight"), mlp, false, true, 1.0, 0.0);
            lap("FFN in (GEMM)");
            biasGelu(rowBufs, mlp, vec(o + "intermediate.dense.bias"));
            lap("bias + GELU");
            Nd4j.gemm(mlp, p(o + "output.dense.weight"), a, false, true, 1.0, 0.0);
            lap("FFN out (GEMM)");
            layerNorm(rowBufs, x, a, vec(o + "output.dense.bias"), vec(o + "output.LayerNorm.weight"),
                    vec(o + "output.LayerNorm.bias"), eps);
            lap("bias + residual + LayerNorm");
        }
        free(proj, attn, a, mlp);
        for (LayerBuffers buf : buffersByWindow.values()) {
            buf.close();
        }
        return x.reshape(b, n, e);
    }

    /** A parameter vector as a Java array. */
    private float[] vec(String name) {
        return p(name).toFloatVector();
    }

    private static float[] concat(float[]... parts) {
        int len = 0;
        for (float[] q : parts) len += q.length;
        float[] out = new float[len];
        int at = 0;
        for (float[] q : parts) {
            System.arraycopy(q, 0, out, at, q.length);
            at += q.length;
        }
        return out;
    }

    /** Per-worker row scratch arrays. */
    private static final class Rows {
        final int threads;
        final float[][] s1;
        final float[][] s2;

        Rows(int threads, int len) {
            this.threads = threads;
            s1 = new float[threads][len];
            s2 = new float[threads][len];
        }
    }

    /**
     * {@code x = LayerNorm(x + (a + bias))} row by row ({@code a == null}: {@code x = LayerNorm(x)}), the graph's
     * steps: centre, biased variance, times {@code 1 / sqrt(var + eps)}, weight, bias.
     */
    private void layerNorm(Rows rb, INDArray x, INDArray a, float[] bias, float[] lw, float[] lb, float eps) {
        int e = (int) x.size(1);
        FloatBuffer xf = floats(x);
        FloatBuffer af = a == null ? null : floats(a);
        Workers.rows(rb.threads, (int) x.size(0), (k, r0, r1) -> {
            float[] xs = rb.s1[k];
            float[] as = rb.s2[k];
            for (int r = r0; r < r1; r++) {
                xf.get(r * e, xs, 0, e);
                if (af != null) {
                    af.get(r * e, as, 0, e);
                    ops.residual(xs, as, 0, e, bias, null);
                }
                ops.layerNorm(xs, xs, 0, e, lw, lb, eps);
                xf.put(r * e, xs, 0, e);
            }
        });
    }

    /** {@code m = gelu(m + bias)} row by row, the exact (erf) GELU. */
    private void biasGelu(Rows rb, INDArray m, float[] bias) {
        int cols = (int) m.size(1);
        FloatBuffer f = floats(m);
        Workers.rows(rb.threads, (int) m.size(0), (k, r0, r1) -> {
            float[] s = rb.s1[k];
            for (int r = r0; r < r1; r++) {
                f.get(r * cols, s, 0, cols);
                ops.biasGelu(s, 0, cols, bias);
                f.put(r * cols, s, 0, cols);
            }
        });
    }

    /** Per-head working arrays of one layer's attention. */
    private static final class LayerBuffers {
        final int w;
        final int nb;
        final int np;
        final int g;
        /** scaled queries {@code [H, np, d]}, zero rows past n. */
        final INDArray q;
        /** keys and values {@code [H, w + np + w, d]}, zero padding on both sides. */
        final INDArray kPad;
        final INDArray vPad;
        /** global keys and values over all tokens {@code [H, n, d]}. */
        final INDArray kAll;
        final INDArray vAll;
        /** ordinary keys and values at the global tokens {@code [H, G, d]}, zero for unused slots. */
        final INDArray kg;
        final INDArray vg;
        /** attention output {@code [H, np, d]}. */
        final INDArray out;
        /**
         * per worker (banded only): scores of a block against the global keys {@code [w, G]} and against its window
         * {@code [w, 3w]}; a row {@code [G + 3w]}; the block's 1 / row sums.
         */
        final INDArray[] sg;
        final INDArray[] sw;
        /** per worker (banded only): the block's values from the global keys and from the window {@code [w, d]}. */
        final INDArray[] og;
        final INDArray[] ow;
        final float[][] row;
        final float[][] inv;
        /** per worker: a bias row, then output rows. */
        final float[][] scratch;

        LayerBuffers(LongformerConfig c, int n, int w, int g, boolean banded, int threads) {
            int h = c.numHeads();
            int d = c.headDim();
            this.w = w;
            this.nb = (n + w - 1) / w;
            this.np = nb * w;
            this.g = g;
            q = Nd4j.zeros(DataType.FLOAT, h, np, d);
            kPad = Nd4j.zeros(DataType.FLOAT, h, np + 2L * w, d);
            vPad = Nd4j.zeros(DataType.FLOAT, h, np + 2L * w, d);
            kAll = Nd4j.create(DataType.FLOAT, h, n, d);
            vAll = Nd4j.create(DataType.FLOAT, h, n, d);
            kg = Nd4j.zeros(DataType.FLOAT, h, Math.max(g, 1), d);
            vg = Nd4j.zeros(DataType.FLOAT, h, Math.max(g, 1), d);
            out = Nd4j.create(DataType.FLOAT, h, np, d);
            int k = banded ? threads : 0;
            sg = new INDArray[k];
            sw = new INDArray[k];
            og = new INDArray[k];
            ow = new INDArray[k];
            row = new float[k][Math.max(g + 3 * w, d)];
            inv = new float[k][w];
            scratch = new float[k][Math.max(g + 3 * w, d)];
            for (int i = 0; i < k; i++) {
                sg[i] = Nd4j.create(DataType.FLOAT, w, Math.max(g, 1));
                sw[i] = Nd4j.create(DataType.FLOAT, w, 3L * w);
                og[i] = Nd4j.create(DataType.FLOAT, w, d);
                ow[i] = Nd4j.create(DataType.FLOAT, w, d);
            }
        }

        void close() {
            free(q, kPad, vPad, kAll, vAll, kg, vg, out);
            free(sg);
            free(sw);
            free(og);
            free(ow);
        }
    }

    /**
     * Attention of batch row r: writes rows {@code [r n, (r + 1) n)} of {@code attn} (before the output projection).
     * {@code proj} holds the fused projection without its bias {@code b5}.
     */
    private void attend(INDArray proj, float[] b5, INDArray x, int r, RowMasks rm, LayerBuffers buf, Rows rb,
                        INDArray qgW, INDArray qgB, INDArray attn) {
        int e = c.hiddenSize();
        int h = c.numHeads();
        int d = c.headDim();
        int n = rm.masks.length();
        int w = buf.w;
        int np = buf.np;
        float scale = (float) (1.0 / Math.sqrt(d));
        int[] globalIdx = rm.globalIdx[r];
        int gr = globalIdx.length;
        long r0 = (long) r * n;

        // [n, 5E] + bias -> q (scaled), padded k and v, global k and v per head
        FloatBuffer pf = floats(proj);
        FloatBuffer qf = floats(buf.q);
        FloatBuffer kf = floats(buf.kPad);
        FloatBuffer vf = floats(buf.vPad);
        FloatBuffer kaf = floats(buf.kAll);
        FloatBuffer vaf = floats(buf.vAll);
        int padRows = np + 2 * w;
        Workers.rows(rb.threads, n, (k, i0, i1) -> {
            float[] s = rb.s1[k];
            for (int i = i0; i < i1; i++) {
                pf.get((int) ((r0 + i) * 5 * e), s, 0, 5 * e);
                ops.addBias(s, 0, s, 0, 5 * e, b5, 0);
                ops.scale(s, 0, e, scale);
                for (int hh = 0; hh < h; hh++) {
                    qf.put((hh * np + i) * d, s, hh * d, d);
                    kf.put((hh * padRows + w + i) * d, s, e + hh * d, d);
                    vf.put((hh * padRows + w + i) * d, s, 2 * e + hh * d, d);
                    kaf.put((hh * n + i) * d, s, 3 * e + hh * d, d);
                    vaf.put((hh * n + i) * d, s, 4 * e + hh * d, d);
                }
            }
        });
        if (buf.g > 0) {
            FloatBuffer kgf = floats(buf.kg);
            FloatBuffer vgf = floats(buf.vg);
            float[] s = rb.s1[0];
            for (int hh = 0; hh < h; hh++) {
                for (int slot = 0; slot < buf.g; slot++) {
                    int at = (hh * buf.g + slot) * d;
                    if (slot < gr) {
                        int from = (hh * padRows + w + globalIdx[slot]) * d;
                        kf.get(from, s, 0, d);
                        kgf.put(at, s, 0, d);
                        vf.get(from, s, 0, d);
                        vgf.put(at, s, 0, d);
                    } else {
                        java.util.Arrays.fill(s, 0, d, 0f);
                        kgf.put(at, s, 0, d);
                        vgf.put(at, s, 0, d);
                    }
                }
            }
        }
        lap("head layout (+ qkv bias)");

        if (attention == Attention.BANDED) {
            banded(r, rm, buf);
        } else {
            dense(r, rm, buf, n);
            lap("dense attention");
        }
        // heads -> rows of attn, times the local-row indicator
        FloatBuffer of = floats(buf.out);
        FloatBuffer af = floats(attn);
        float[] local = rm.localRowsF[r];
        Workers.rows(rb.threads, n, (k, i0, i1) -> {
            float[] s = rb.s1[k];
            for (int i = i0; i < i1; i++) {
                for (int hh = 0; hh < h; hh++) {
                    of.get((hh * np + i) * d, s, hh * d, d);
                }
                ops.scale(s, 0, e, local[i]);
                af.put((int) ((r0 + i) * e), s, 0, e);
            }
        });
        lap("head merge");

        if (gr > 0) {
            globalRows(x, r, rm, buf, rb, qgW, qgB, attn);
            lap("global attention");
        }
    }

    /**
     * The global rows of batch row r against all keys, one job per head on the workers: scores {@code [gr, n]} by
     * one GEMM into the worker's buffer, key bias and softmax per row in Java, values by one GEMM, divided by the row
     * sums into the global rows of {@code attn} (that head's columns).
     */
    private void globalRows(INDArray x, int r, RowMasks rm, LayerBuffers buf, Rows rb, INDArray qgW, INDArray qgB,
                            INDArray attn) {
        int e = c.hiddenSize();
        int h = c.numHeads();
        int d = c.headDim();
        int n = rm.masks.length();
        int[] globalIdx = rm.globalIdx[r];
        int gr = globalIdx.length;
        long r0 = (long) r * n;
        float scale = (float) (1.0 / Math.sqrt(d));
        INDArray hg = Nd4j.pullRows(x.get(interval(r0, r0 + n), all()), 1, globalIdx); // [gr, E]
        INDArray qg = Nd4j.create(DataType.FLOAT, gr, e);
        Nd4j.gemm(hg, qgW, qg, false, true, 1.0, 0.0);
        qg.addiRowVector(qgB).muli(scale);
        INDArray qgh = qg.reshape(gr, h, d).permute(1, 0, 2).dup('c'); // [h, gr, d]
        int threads = rb.threads;
        INDArray[] gs = new INDArray[threads];
        INDArray[] go = new INDArray[threads];
        for (int k = 0; k < threads; k++) {
            gs[k] = Nd4j.create(DataType.FLOAT, gr, n);
            go[k] = Nd4j.create(DataType.FLOAT, gr, d);
        }
        float[] keyBias = rm.keyBiasF[r];
        FloatBuffer af = floats(attn);
        Workers.jobs(threads, h, (k, hh) -> {
            Nd4j.gemm(view(qgh, (long) hh * gr * d, gr, d), view(buf.kAll, (long) hh * n * d, n, d), gs[k],
                    false, true, 1.0, 0.0);
            FloatBuffer gf = floats(gs[k]);
            float[] s = rb.s1[k];
            float[] inv = new float[gr];
            for (int q = 0; q < gr; q++) {
                gf.get(q * n, s, 0, n);
                ops.addBias(s, 0, s, 0, n, keyBias, 0);
                inv[q] = 1f / ops.expShifted(s, 0, n);
                gf.put(q * n, s, 0, n);
            }
            Nd4j.gemm(gs[k], view(buf.vAll, (long) hh * n * d, n, d), go[k], false, false, 1.0, 0.0);
            FloatBuffer of = floats(go[k]);
            for (int q = 0; q < gr; q++) {
                of.get(q * d, s, 0, d);
                ops.scale(s, 0, d, inv[q]);
                af.put((int) ((r0 + globalIdx[q]) * e + hh * d), s, 0, d);
            }
        });
        free(hg, qg, qgh);
        free(gs);
        free(go);
    }

    /** Window attention sub-stages, in the order of {@link #windowJob}'s timings. */
    private static final String[] WINDOW_STAGES = {"w: scores (2 GEMMs)", "w: bias + softmax (exp)",
            "w: values (2 GEMMs) + 1/sum"};

    /**
     * Banded attention of batch row r into {@code buf.out}: one job per (head, block of {@code w} queries) on the
     * workers ({@link Workers#jobs}); the wall time is split over {@link #WINDOW_STAGES} in proportion to the
     * workers' summed time in each.
     */
    private void banded(int r, RowMasks rm, LayerBuffers buf) {
        int h = c.numHeads();
        int threads = buf.sg.length;
        long[][] nanos = new long[threads][WINDOW_STAGES.length];
        FloatBuffer bias = floats(rm.masks.windowBiasArray());
        long start = System.nanoTime();
        Workers.jobs(threads, h * buf.nb, (k, j) -> windowJob(r, buf, bias, k, j / buf.nb, j % buf.nb, nanos[k]));
        Workers.splitWallTime((System.nanoTime() - start) / 1e9, nanos, WINDOW_STAGES, stageSeconds);
        mark = System.nanoTime();
    }

    /**
     * Head hh, block cb of batch row r on worker k: the block's queries {@code [w, d]} against the global keys
     * ({@code [w, G]}) and the window keys (rows {@code [cb w, cb w + 3w)} of the padded keys: the previous, own
     * and next block, {@code [w, 3w]}); per row the window bias ({@code [G | 3w]}, the graph's column order) and
     * {@code exp(s - max)}; the values by two GEMMs into per-worker arrays, summed, divided by the row sums and
     * written to the head's output rows.
     */
    private void windowJob(int r, LayerBuffers buf, FloatBuffer bias, int k, int hh, int cb, long[] nanos) {
        int d = c.headDim();
        int w = buf.w;
        int g = buf.g;
        int nb = buf.nb;
        int np = buf.np;
        int cols = g + 3 * w;
        long padRows = np + 2L * w;
        long t0 = System.nanoTime();
        INDArray qb = view(buf.q, ((long) hh * np + (long) cb * w) * d, w, d);
        INDArray kw = view(buf.kPad, (hh * padRows + (long) cb * w) * d, 3L * w, d);
        INDArray vw = view(buf.vPad, (hh * padRows + (long) cb * w) * d, 3L * w, d);
        INDArray sg = buf.sg[k];
        INDArray sw = buf.sw[k];
        INDArray kgh = null;
        INDArray vgh = null;
        if (g > 0) {
            kgh = view(buf.kg, (long) hh * g * d, g, d);
            vgh = view(buf.vg, (long) hh * g * d, g, d);
            Nd4j.gemm(qb, kgh, sg, false, true, 1.0, 0.0);
        }
        Nd4j.gemm(qb, kw, sw, false, true, 1.0, 0.0);
        long t1 = System.nanoTime();
        FloatBuffer sgf = floats(sg);
        FloatBuffer swf = floats(sw);
        float[] row = buf.row[k];
        float[] inv = buf.inv[k];
        int biasBase = (r * nb + cb) * w * cols;
        for (int i = 0; i < w; i++) {
            if (g > 0) {
                sgf.get(i * g, row, 0, g);
            }
            swf.get(i * 3 * w, row, g, 3 * w);
            float[] b = buf.scratch[k];
            bias.get(biasBase + i * cols, b, 0, cols);
            ops.addBias(row, 0, row, 0, cols, b, 0);
            inv[i] = 1f / ops.expShifted(row, 0, cols);
            if (g > 0) {
                sgf.put(i * g, row, 0, g);
            }
            swf.put(i * 3 * w, row, g, 3 * w);
        }
        long t2 = System.nanoTime();
        // into whole per-worker arrays (ND4J's gemm into a view of the output is far slower), summed in Java
        INDArray og = buf.og[k];
        INDArray ow = buf.ow[k];
        if (g > 0) {
            Nd4j.gemm(sg, vgh, og, false, false, 1.0, 0.0);
        }
        Nd4j.gemm(sw, vw, ow, false, false, 1.0, 0.0);
        FloatBuffer ogf = floats(og);
        FloatBuffer owf = floats(ow);
        FloatBuffer of = floats(buf.out);
        float[] s = buf.scratch[k];
        float[] s2 = row;
        int base = (hh * np + cb * w) * d;
        for (int i = 0; i < w; i++) {
            owf.get(i * d, s, 0, d);
            if (g > 0) {
                ogf.get(i * d, s2, 0, d);
                ops.addBias(s2, 0, s, 0, d, s, 0);
            }
            ops.scale(s, 0, d, inv[i]);
            of.put(base + i * d, s, 0, d);
        }
        long t3 = System.nanoTime();
        nanos[0] += t1 - t0;
        nanos[1] += t2 - t1;
        nanos[2] += t3 - t2;
    }

    /** Dense (n x n) attention of batch row r into {@code buf.out}, with the band, global keys and padding as a mask. */
    private void dense(int r, RowMasks rm, LayerBuffers buf, int n) {
        int w = buf.w;
        INDArray bias = rm.dense.computeIfAbsent(r, rr -> denseBias(rm, rr, n, w));
        INDArray scores = Nd4j.create(DataType.FLOAT, n, n);
        for (int hh = 0; hh < c.numHeads(); hh++) {
            INDArray qh = buf.q.slice(hh).get(interval(0, n), all());
            INDArray kh = buf.kPad.slice(hh).get(interval(w, w + n), all());
            INDArray vh = buf.vPad.slice(hh).get(interval(w, w + n), all());
            Nd4j.gemm(qh, kh, scores, false, true, 1.0, 0.0);
            scores.addi(bias);
            Nd4j.exec(new SoftMax(scores, scores, 1));
            Nd4j.gemm(scores, vh, buf.out.slice(hh).get(interval(0, n), all()), false, false, 1.0, 0.0);
        }
        free(scores);
    }

    /**
     * {@code [n, n]}: 0 where key j is a window key (unmasked, not global) within the band |i - j| &lt;= w, or an
     * unmasked global token; {@link BandedAttention#NEG} elsewhere.
     */
    private static INDArray denseBias(RowMasks rm, int r, int n, int w) {
        INDArray keyBias = rm.keyBias[r];
        boolean[] globalKey = new boolean[n];
        for (int j : rm.globalIdx[r]) globalKey[j] = true;
        boolean[] windowKey = new boolean[n];
        for (int j = 0; j < n; j++) {
            windowKey[j] = keyBias.getFloat(0, j) == 0 && !globalKey[j];
        }
        float neg = (float) BandedAttention.NEG;
        float[] bias = new float[Math.multiplyExact(n, n)];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                boolean ok = globalKey[j] || (windowKey[j] && Math.abs(i - j) <= w);
                if (!ok) bias[i * n + j] = neg;
            }
        }
        return Nd4j.createFromArray(bias).reshape('c', n, n);
    }

    /**
     * Releases an array's native memory now instead of at garbage collection (the executor allocates large
     * temporaries whose off-heap memory would otherwise pile up between collections); views and workspace arrays
     * are left alone.
     */
    static void free(INDArray... arrays) {
        for (INDArray a : arrays) {
            if (a != null && a.closeable()) {
                a.close();
            }
        }
    }

    /**
     * The native buffer of a whole c-order array (offset 0, as long as its buffer) as floats, for the row kernels.
     */
    private static FloatBuffer floats(INDArray a) {
        if (a.offset() != 0 || a.ordering() != 'c' || a.data().length() != a.length()
                || a.dataType() != DataType.FLOAT) {
            throw new IllegalStateException("expected a whole c-order float array");
        }
        return a.data().asNioFloat();
    }

    /** The c-order {@code [rows, cols]} matrix at element {@code offset} of {@code a}'s buffer (a view). */
    private static INDArray view(INDArray a, long offset, long rows, long cols) {
        return Nd4j.create(a.data(), new long[]{rows, cols}, new long[]{cols, 1}, offset, 'c');
    }
}
