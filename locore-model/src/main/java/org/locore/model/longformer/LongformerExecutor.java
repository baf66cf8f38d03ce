package org.locore.model.longformer;

import org.locore.model.rowops.RowOps;
import org.locore.model.rowops.StridedGemm;
import org.locore.model.rowops.Workers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
 * query, key, value, global-key and global-value projections, whose bias is added in place (queries scaled by
 * {@code 1 / sqrt(d)}); from then on every head's queries and global keys and values are read in place (columns of
 * the fused array, leading dimension {@code 5E}, through {@link StridedGemm}), while the keys and values are also
 * copied head-major ({@code [B, H, n, d]}, in the same pass as the bias) for the window GEMMs, which read contiguous
 * rows about 6% faster over the whole forward than the strided columns. The banded attention runs
 * in jobs of (head, block of {@code w} queries) on parallel Java threads with single-threaded GEMMs
 * ({@link Workers#jobs}): the block's scores against the G global keys and against its window (the previous, own
 * and next block's tokens, clipped to the sequence) by two GEMMs into per-worker buffers; per row, in place in
 * those buffers, the global-slot and window-key bias and {@code exp(s - max)} over the global columns and the
 * row's band only (the graph's masked entries, whose exponentials are exactly 0, are written as 0); the values by two GEMMs into one per-worker
 * array, scaled by the inverse row sums (the softmax's normalisation on {@code d} instead of {@code G + 3w}
 * columns) and the local-row indicator straight into the head's columns of the attention output. The global rows
 * attend to all keys, one job per head. Output projection and FFN are 2-D GEMMs into reused buffers. The
 * element-wise steps (bias adds, residual + LayerNorm, bias + exact GELU, the softmax's exponentials) are the row
 * kernels of {@link RowOps} (SIMD through the JDK's Vector API when the JVM runs with
 * {@code --add-modules jdk.incubator.vector}, scalar Java otherwise), split over the ND4J thread count.
 * Temporaries' native memory is released at once, so the peak stays near the working set (under 2 GB at
 * LOCORE-base size); the working arrays themselves are released after each run, or kept for the next run of the
 * same size with {@link #keepBuffers} (as {@code LocoreModel}'s inference does).
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
    /** Rows per block of the row passes (LayerNorm, GELU, biases), which the workers take dynamically. */
    private static final int ROW_BLOCK = 128;
    /**
     * The {@link #stageSeconds()} key of the FFN input GEMMs ({@code [B n, E] x [E, M]}): at LOCORE-base size the
     * benchmarks' reference product itself, so its rate inside the forward is the machine's GEMM rate at that time.
     */
    public static final String FFN_IN_STAGE = "FFN in (GEMM)";

    private final LongformerConfig c;
    private final int layers;
    private final String prefix;
    private final Function<String, INDArray> param;
    private final Attention attention;
    private final RowOps ops;
    /**
     * Query sub-blocks per block of w (system property {@code locore.longformer.subBlocks}, default 1): each
     * sub-block's GEMMs cover only the window columns its rows' bands reach (fewer FLOPs, smaller GEMMs).
     */
    private int subBlocks = Integer.getInteger("locore.longformer.subBlocks", 1);
    /**
     * During a banded forward: the projection's keys and values copied head-major, {@code [B, H, n, d]} (contiguous
     * rows of d floats), which the window GEMMs read faster than the strided columns of the fused projection.
     */
    private INDArray keysByHead;
    private INDArray valuesByHead;
    /** Whether {@link #work} outlives a run ({@link #keepBuffers}). */
    private boolean keepBuffers;
    private Work work;
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

    /** Sets the query sub-blocks per window block (see {@link #subBlocks}); for tests and benchmarks. */
    LongformerExecutor subBlocks(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("sub-blocks must be at least 1: " + count);
        }
        this.subBlocks = count;
        return this;
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
        /**
         * Per batch row, the window keys' bias over the sequence padded by w on both sides ({@code [w + np + w]},
         * token j at {@code w + j}): 0 for an unmasked, non-global token, {@link BandedAttention#NEG} elsewhere
         * (masked, global, padding); with the band, the window part of {@link BandedAttention.Masks}' window bias.
         */
        final float[][] windowKeyBiasF;
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
            windowKeyBiasF = new float[b][];
            int w = masks.window();
            int np = (n + w - 1) / w * w;
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
                windowKeyBiasF[r] = new float[np + 2 * w];
                java.util.Arrays.fill(windowKeyBiasF[r], (float) BandedAttention.NEG);
                for (int j = 0; j < n; j++) {
                    if (attention[r][j] != 0 && global[r][j] == 0) windowKeyBiasF[r][w + j] = 0f;
                }
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
        Work work = work(bn, threads, Math.max(Math.max(5 * e, c.intermediateSize()), n));
        Rows rowBufs = work.rows;
        INDArray x = embeddings(inputsEmbeds, b, n, rowBufs, eps);
        lap("embeddings");

        Map<Integer, RowMasks> masksByWindow = new HashMap<>();
        Map<Integer, LayerBuffers> buffersByWindow = work.layerBuffers;
        INDArray proj = work.proj;
        keysByHead = work.keys;
        valuesByHead = work.values;
        INDArray attn = work.attn;
        INDArray a = work.a;
        INDArray mlp = work.mlp;
        for (int l = 0; l < layers; l++) {
            int w = c.oneSidedWindow(l);
            RowMasks rm = masksByWindow.computeIfAbsent(w, ww -> new RowMasks(
                    BandedAttention.Masks.withoutWindowBias(attentionMask, globalMask, ww, globalSlots,
                            DataType.FLOAT),
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
            LayerBuffers buf = buffersByWindow.get(w);
            if (buf == null || buf.slots != rm.masks.globals() || buf.n != n) {
                if (buf != null) {
                    buf.close();
                }
                buf = new LayerBuffers(c, n, w, rm.masks.globals(), attention == Attention.BANDED, threads);
                buffersByWindow.put(w, buf);
            }
            projectionBias(proj, b5, n, rowBufs);
            lap("qkv bias");
            for (int r = 0; r < b; r++) {
                attend(proj, x, r, rm, buf, rowBufs, p(s + "query_global.weight"), vec(s + "query_global.bias"), attn);
            }
            String o = "encoder.layer." + l + ".";
            Nd4j.gemm(attn, p(o + "attention.output.dense.weight"), a, false, true, 1.0, 0.0);
            lap("attention output projection");
            layerNorm(rowBufs, x, a, vec(o + "attention.output.dense.bias"), vec(o + "attention.output.LayerNorm.weight"),
                    vec(o + "attention.output.LayerNorm.bias"), eps);
            lap("bias + residual + LayerNorm");
            Nd4j.gemm(x, p(o + "intermediate.dense.weight"), mlp, false, true, 1.0, 0.0);
            lap(FFN_IN_STAGE);
            biasGelu(rowBufs, mlp, vec(o + "intermediate.dense.bias"));
            lap("bias + GELU");
            Nd4j.gemm(mlp, p(o + "output.dense.weight"), a, false, true, 1.0, 0.0);
            lap("FFN out (GEMM)");
            layerNorm(rowBufs, x, a, vec(o + "output.dense.bias"), vec(o + "output.LayerNorm.weight"),
                    vec(o + "output.LayerNorm.bias"), eps);
            lap("bias + residual + LayerNorm");
        }
        keysByHead = null;
        valuesByHead = null;
        if (!keepBuffers) {
            release();
        }
        return x.reshape(b, n, e);
    }

    /**
     * Keeps the working arrays (about {@code 4 B n (9 E + M)} bytes: projections, attention, FFN) between runs of
     * the same token count instead of allocating and releasing them in every run ({@link #release()} frees them);
     * saves the allocation and first-touch page faults of a few hundred MB per forward at LOCORE-base size.
     */
    public LongformerExecutor keepBuffers(boolean keep) {
        this.keepBuffers = keep;
        if (!keep) {
            release();
        }
        return this;
    }

    /** Frees the working arrays kept by {@link #keepBuffers}; the next run allocates them again. */
    public void release() {
        if (work != null) {
            work.close();
            work = null;
        }
    }

    /** The working arrays for {@code bn} rows: the kept ones when they fit, new ones otherwise. */
    private Work work(int bn, int threads, int rowLength) {
        if (work != null && (work.bn != bn || work.rows.threads != threads || work.rowLength < rowLength)) {
            release();
        }
        if (work == null) {
            work = new Work(bn, threads, rowLength, attention == Attention.BANDED);
        }
        return work;
    }

    /** The working arrays of a run (kept between runs with {@link #keepBuffers}). */
    private final class Work {
        final int bn;
        final int rowLength;
        final Rows rows;
        final INDArray proj;
        final INDArray keys;
        final INDArray values;
        final INDArray attn;
        final INDArray a;
        final INDArray mlp;
        final Map<Integer, LayerBuffers> layerBuffers = new HashMap<>();

        Work(int bn, int threads, int rowLength, boolean banded) {
            int e = c.hiddenSize();
            this.bn = bn;
            this.rowLength = rowLength;
            rows = new Rows(threads, rowLength);
            proj = Nd4j.create(DataType.FLOAT, bn, 5L * e);
            keys = banded ? Nd4j.create(DataType.FLOAT, bn, e) : null;
            values = banded ? Nd4j.create(DataType.FLOAT, bn, e) : null;
            attn = Nd4j.create(DataType.FLOAT, bn, e);
            a = Nd4j.create(DataType.FLOAT, bn, e);
            mlp = Nd4j.create(DataType.FLOAT, bn, c.intermediateSize());
        }

        void close() {
            free(proj, attn, a, mlp, keys, values);
            for (LayerBuffers buf : layerBuffers.values()) {
                buf.close();
            }
            layerBuffers.clear();
        }
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
     * The embeddings {@code LayerNorm(inputs + position + token type 0)} of {@code [B, n, E]} inputs as a new
     * {@code [B n, E]} array, in one pass over the rows (positions from {@link LongformerConfig#firstPosition()};
     * the sums in that order, as the graph adds them).
     */
    private INDArray embeddings(INDArray inputsEmbeds, int b, int n, Rows rb, float eps) {
        int e = c.hiddenSize();
        int bn = b * n;
        INDArray in = inputsEmbeds.reshape(bn, e);
        boolean copied = in.dataType() != DataType.FLOAT || in.offset() != 0 || in.ordering() != 'c'
                || in.data().length() != in.length();
        if (copied) {
            in = in.castTo(DataType.FLOAT).dup('c');
        }
        INDArray pos = p("embeddings.position_embeddings.weight")
                .get(interval(c.firstPosition(), c.firstPosition() + n), all()).dup('c');
        float[] type = p("embeddings.token_type_embeddings.weight").getRow(0).toFloatVector();
        float[] lw = vec("embeddings.LayerNorm.weight");
        float[] lb = vec("embeddings.LayerNorm.bias");
        INDArray x = Nd4j.create(DataType.FLOAT, bn, e);
        FloatBuffer inf = floats(in);
        FloatBuffer pf = floats(pos);
        FloatBuffer xf = floats(x);
        Workers.rowBlocks(rb.threads, bn, ROW_BLOCK, (k, r0, r1) -> {
            float[] xs = rb.s1[k];
            float[] ps = rb.s2[k];
            for (int r = r0; r < r1; r++) {
                inf.get(r * e, xs, 0, e);
                pf.get(r % n * e, ps, 0, e);
                ops.addBias(xs, 0, xs, 0, e, ps, 0);
                ops.addBias(xs, 0, xs, 0, e, type, 0);
                ops.layerNorm(xs, xs, 0, e, lw, lb, eps);
                xf.put(r * e, xs, 0, e);
            }
        });
        free(pos);
        if (copied) {
            free(in);
        }
        return x;
    }

    /**
     * {@code x = LayerNorm(x + (a + bias))} row by row ({@code a == null}: {@code x = LayerNorm(x)}), the graph's
     * steps: centre, biased variance, times {@code 1 / sqrt(var + eps)}, weight, bias.
     */
    private void layerNorm(Rows rb, INDArray x, INDArray a, float[] bias, float[] lw, float[] lb, float eps) {
        int e = (int) x.size(1);
        FloatBuffer xf = floats(x);
        FloatBuffer af = a == null ? null : floats(a);
        Workers.rowBlocks(rb.threads, (int) x.size(0), ROW_BLOCK, (k, r0, r1) -> {
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
        Workers.rowBlocks(rb.threads, (int) m.size(0), ROW_BLOCK, (k, r0, r1) -> {
            float[] s = rb.s1[k];
            for (int r = r0; r < r1; r++) {
                f.get(r * cols, s, 0, cols);
                ops.biasGelu(s, 0, cols, bias);
                f.put(r * cols, s, 0, cols);
            }
        });
    }

    /** Per-worker working arrays of one window size's attention (reused across layers). */
    private static final class LayerBuffers {
        /** A multiple of the float vector lengths (4, 8, 16 lanes). */
        static final int SLOT_ROUNDING = 16;

        final int n;
        final int w;
        final int nb;
        /** the global-token slots G of the masks. */
        final int slots;
        /**
         * G rounded up to a multiple of {@link #SLOT_ROUNDING}: the columns of the global keys and values and of the
         * window blocks' global scores; the extra slots are unused ones (zero keys and values, masked), so that the
         * softmax runs over whole vectors instead of ending each row's global segment in scalar exponentials.
         */
        final int g;
        /** ordinary keys and values at the global tokens {@code [H, g, d]}, zero for unused slots. */
        final INDArray kg;
        final INDArray vg;
        /**
         * per worker (banded only): scores of a block against the global keys {@code [w, G]} and against its window
         * {@code [w, 3w]}, the block's values {@code [w, d]}.
         */
        final INDArray[] sg;
        final INDArray[] sw;
        final INDArray[] ow;
        /** per worker: the block's 1 / row sums, output rows; zeros. */
        final float[][] inv;
        final float[][] scratch;
        final float[] zeros;
        /** the global rows: gathered hidden rows and their queries {@code [G, E]}; per worker scores {@code [G, n]},
         * values {@code [G, d]}, 1 / row sums. */
        final INDArray hg;
        final INDArray qg;
        final INDArray[] gs;
        final INDArray[] go;
        final float[][] ginv;

        LayerBuffers(LongformerConfig c, int n, int w, int g, boolean banded, int threads) {
            int h = c.numHeads();
            int d = c.headDim();
            this.n = n;
            this.w = w;
            this.nb = (n + w - 1) / w;
            this.slots = g;
            g = (g + SLOT_ROUNDING - 1) / SLOT_ROUNDING * SLOT_ROUNDING;
            this.g = g;
            kg = Nd4j.zeros(DataType.FLOAT, h, Math.max(g, 1), d);
            vg = Nd4j.zeros(DataType.FLOAT, h, Math.max(g, 1), d);
            int k = banded ? threads : 0;
            sg = new INDArray[k];
            sw = new INDArray[k];
            ow = new INDArray[k];
            inv = new float[k][w];
            scratch = new float[k][Math.max(g + 3 * w, d)];
            zeros = new float[3 * w];
            int gRows = Math.max(g, 1);
            hg = Nd4j.create(DataType.FLOAT, gRows, c.hiddenSize());
            qg = Nd4j.create(DataType.FLOAT, gRows, c.hiddenSize());
            gs = new INDArray[threads];
            go = new INDArray[threads];
            ginv = new float[threads][gRows];
            for (int i = 0; i < threads; i++) {
                gs[i] = Nd4j.create(DataType.FLOAT, gRows, n);
                go[i] = Nd4j.create(DataType.FLOAT, gRows, d);
            }
            for (int i = 0; i < k; i++) {
                sg[i] = Nd4j.create(DataType.FLOAT, w, Math.max(g, 1));
                sw[i] = Nd4j.zeros(DataType.FLOAT, w, 3L * w);
                ow[i] = Nd4j.create(DataType.FLOAT, w, d);
            }
        }

        void close() {
            free(kg, vg, hg, qg);
            free(gs);
            free(go);
            free(sg);
            free(sw);
            free(ow);
        }
    }

    /**
     * Adds the fused projection's bias {@code b5} to {@code proj} {@code [B n, 5E]} ({@code n = seq}) in place and
     * scales the query columns by {@code 1 / sqrt(d)}; the attention then reads every head's queries, keys and
     * values in place (columns {@code hh d} of each section, leading dimension {@code 5E}). For the banded attention
     * the keys and values are also copied head-major into {@link #keysByHead} and {@link #valuesByHead}.
     */
    private void projectionBias(INDArray proj, float[] b5, int seq, Rows rb) {
        int e = c.hiddenSize();
        float scale = (float) (1.0 / Math.sqrt(c.headDim()));
        int h = c.numHeads();
        int d = c.headDim();
        FloatBuffer pf = floats(proj);
        FloatBuffer kf = keysByHead == null ? null : floats(keysByHead);
        FloatBuffer vf = valuesByHead == null ? null : floats(valuesByHead);
        Workers.rowBlocks(rb.threads, (int) proj.size(0), ROW_BLOCK, (k, i0, i1) -> {
            float[] s = rb.s1[k];
            for (int i = i0; i < i1; i++) {
                pf.get(i * 5 * e, s, 0, 5 * e);
                ops.addBias(s, 0, s, 0, 5 * e, b5, 0);
                ops.scale(s, 0, e, scale);
                pf.put(i * 5 * e, s, 0, 5 * e);
                if (kf != null) {
                    // token t of batch row r: head hh's key and value at ((r H + hh) n + t) d
                    int r = i / seq;
                    int t = i % seq;
                    for (int hh = 0; hh < h; hh++) {
                        int at = ((r * h + hh) * seq + t) * d;
                        kf.put(at, s, e + hh * d, d);
                        vf.put(at, s, 2 * e + hh * d, d);
                    }
                }
            }
        });
    }

    /**
     * Attention of batch row r: writes rows {@code [r n, (r + 1) n)} of {@code attn} (before the output projection).
     * {@code proj} holds the fused projection with its bias and the queries scaled ({@link #projectionBias}).
     */
    private void attend(INDArray proj, INDArray x, int r, RowMasks rm, LayerBuffers buf, Rows rb,
                        INDArray qgW, float[] qgB, INDArray attn) {
        int e = c.hiddenSize();
        int h = c.numHeads();
        int d = c.headDim();
        int n = rm.masks.length();
        int[] globalIdx = rm.globalIdx[r];
        int gr = globalIdx.length;
        long r0 = (long) r * n;

        // ordinary keys and values at the global tokens, per head [G, d]
        if (buf.g > 0) {
            FloatBuffer pf = floats(proj);
            FloatBuffer kgf = floats(buf.kg);
            FloatBuffer vgf = floats(buf.vg);
            float[] s = rb.s1[0];
            java.util.Arrays.fill(s, 0, d, 0f);
            for (int hh = 0; hh < h; hh++) {
                for (int slot = 0; slot < buf.g; slot++) {
                    int at = (hh * buf.g + slot) * d;
                    if (slot < gr) {
                        int from = (int) ((r0 + globalIdx[slot]) * 5 * e);
                        kgf.put(at, pf, from + e + hh * d, d);
                        vgf.put(at, pf, from + 2 * e + hh * d, d);
                    } else {
                        kgf.put(at, s, 0, d);
                        vgf.put(at, s, 0, d);
                    }
                }
            }
        }
        lap("global keys and values");

        if (attention == Attention.BANDED) {
            banded(proj, r, rm, buf, attn);
        } else {
            dense(proj, r, rm, buf, n, attn);
            lap("dense attention");
        }

        if (gr > 0) {
            globalRows(proj, x, r, rm, buf, rb, qgW, qgB, attn);
        }
    }

    /**
     * The global rows of batch row r against all keys, one job per head (or per head and half of the rows) on the
     * workers: scores {@code [rows, n]} by one GEMM (the head's global keys read in place in {@code proj}) into the
     * worker's buffer, key bias and softmax per row in place in that buffer, values by one GEMM, divided by the row
     * sums into the global rows of {@code attn} (that head's columns).
     */
    private void globalRows(INDArray proj, INDArray x, int r, RowMasks rm, LayerBuffers buf, Rows rb, INDArray qgW,
                            float[] qgB, INDArray attn) {
        int e = c.hiddenSize();
        int h = c.numHeads();
        int d = c.headDim();
        int n = rm.masks.length();
        int[] globalIdx = rm.globalIdx[r];
        int gr = globalIdx.length;
        long r0 = (long) r * n;
        float scale = (float) (1.0 / Math.sqrt(d));
        // global queries [gr, E]: the global tokens' rows of x times the global query projection, bias, scale
        FloatBuffer xf = floats(x);
        FloatBuffer hgf = floats(buf.hg);
        for (int q = 0; q < gr; q++) {
            hgf.put(q * e, xf, (int) ((r0 + globalIdx[q]) * e), e);
        }
        StridedGemm.sgemm(false, true, gr, e, e, 1f, buf.hg, 0, e, qgW, 0, e, 0f, buf.qg, 0, e);
        FloatBuffer qf = floats(buf.qg);
        float[] s0 = rb.s1[0];
        for (int q = 0; q < gr; q++) {
            qf.get(q * e, s0, 0, e);
            ops.addBias(s0, 0, s0, 0, e, qgB, 0);
            ops.scale(s0, 0, e, scale);
            qf.put(q * e, s0, 0, e);
        }
        float[] keyBias = rm.keyBiasF[r];
        FloatBuffer af = floats(attn);
        long base = r0 * 5 * e;
        lap("global attention: queries");
        long[][] nanos = new long[rb.threads][GLOBAL_STAGES.length];
        long start = System.nanoTime();
        // two jobs per head (halves of the global rows): 24 jobs balance better over the workers than 12
        int parts = gr >= 2 ? 2 : 1;
        int per = (gr + parts - 1) / parts;
        Workers.jobs(rb.threads, h * parts, (k, j) -> {
            int hh = j / parts;
            int q0 = j % parts * per;
            int rows = Math.min(gr, q0 + per) - q0;
            long t0 = System.nanoTime();
            INDArray gs = buf.gs[k];
            StridedGemm.sgemm(false, true, rows, n, d, 1f, buf.qg, (long) q0 * e + (long) hh * d, e,
                    proj, base + 3L * e + (long) hh * d, 5 * e, 0f, gs, 0, n);
            long t1 = System.nanoTime();
            float[] s = rb.s1[k];
            float[] inv = buf.ginv[k];
            ByteBuffer gb = bytes(gs);
            for (int q = 0; q < rows; q++) {
                // in place: key bias and exp(s - max) (one segment: the second is empty)
                inv[q] = 1f / ops.expShiftedWithBias(gb, 4 * q * n, n, keyBias, 0, gb, 0, 0, keyBias, 0);
            }
            long t2 = System.nanoTime();
            INDArray go = buf.go[k];
            StridedGemm.sgemm(false, false, rows, d, n, 1f, gs, 0, n,
                    proj, base + 4L * e + (long) hh * d, 5 * e, 0f, go, 0, d);
            FloatBuffer of = floats(go);
            for (int q = 0; q < rows; q++) {
                of.get(q * d, s, 0, d);
                ops.scale(s, 0, d, inv[q]);
                af.put((int) ((r0 + globalIdx[q0 + q]) * e + hh * d), s, 0, d);
            }
            long t3 = System.nanoTime();
            nanos[k][0] += t1 - t0;
            nanos[k][1] += t2 - t1;
            nanos[k][2] += t3 - t2;
        });
        Workers.splitWallTime((System.nanoTime() - start) / 1e9, nanos, GLOBAL_STAGES, stageSeconds);
        mark = System.nanoTime();
    }

    /** Global-row sub-stages, in the order of {@link #globalRows}' per-head timings. */
    private static final String[] GLOBAL_STAGES = {"global attention: scores GEMM", "global attention: bias + softmax",
            "global attention: values GEMM + 1/sum"};

    /** Window attention sub-stages, in the order of {@link #windowJob}'s timings. */
    private static final String[] WINDOW_STAGES = {"w: scores (2 GEMMs)", "w: bias + softmax (exp)",
            "w: values (2 GEMMs) + 1/sum"};

    /**
     * Banded attention of batch row r into its rows of {@code attn}: one job per (head, block of {@code w}
     * queries) on the workers ({@link Workers#jobs}); the wall time is split over {@link #WINDOW_STAGES} in
     * proportion to the workers' summed time in each.
     */
    private void banded(INDArray proj, int r, RowMasks rm, LayerBuffers buf, INDArray attn) {
        int h = c.numHeads();
        int threads = buf.sg.length;
        long[][] nanos = new long[threads][WINDOW_STAGES.length];
        float[] slotBias = new float[Math.max(buf.g, 1)];
        java.util.Arrays.fill(slotBias, rm.globalIdx[r].length, slotBias.length, (float) BandedAttention.NEG);
        FloatBuffer af = floats(attn);
        long start = System.nanoTime();
        Workers.jobs(threads, h * buf.nb, (k, j) ->
                windowJob(proj, r, rm, buf, slotBias, af, k, j / buf.nb, j % buf.nb, nanos[k]));
        Workers.splitWallTime((System.nanoTime() - start) / 1e9, nanos, WINDOW_STAGES, stageSeconds);
        mark = System.nanoTime();
    }

    /**
     * Head hh, block cb of batch row r on worker k. The block's {@code m <= w} queries (read in place in
     * {@code proj}) against the G global keys ({@code [m, G]}) and against the window keys: tokens
     * {@code [cb w - w, cb w + 2w)} (the previous, own and next block) clipped to the sequence, column {@code t} of
     * the {@code [m, 3w]} scores being token {@code cb w - w + t}. Query row i of the block sees window columns
     * {@code [i, i + 2w]} (the band {@code |query - key| <= w}); per row, the global-slot bias and the window keys'
     * bias (padding and global tokens excluded) are added and {@code exp(s - max)} is taken over the G global
     * columns and the band only, the other columns set to 0 (the graph's masked entries, whose exponentials are
     * exactly 0). Values by two GEMMs into one per-worker array, scaled by the row sums' inverse and the local-row
     * indicator into the head's columns of {@code attn}.
     */
    private void windowJob(INDArray proj, int r, RowMasks rm, LayerBuffers buf, float[] slotBias, FloatBuffer af,
                           int k, int hh, int cb, long[] nanos) {
        int e = c.hiddenSize();
        int d = c.headDim();
        int n = rm.masks.length();
        int w = buf.w;
        int g = buf.g;
        int w3 = 3 * w;
        int q0 = cb * w;
        int m = Math.min(w, n - q0);
        int tLo = Math.max(0, q0 - w) - (q0 - w);
        int tHi = Math.min(n, q0 + 2 * w) - (q0 - w);
        long base = (long) r * n * 5 * e;
        long qOff = base + (long) q0 * 5 * e + (long) hh * d;
        // window column t is token q0 - w + t: its key and value at kvBase + t d in keysByHead / valuesByHead
        long kvBase = ((long) (r * c.numHeads() + hh) * n + q0 - w) * d;
        int sub = Math.min(subBlocks, m);
        int per = (m + sub - 1) / sub;
        long t0 = System.nanoTime();
        INDArray sg = buf.sg[k];
        INDArray sw = buf.sw[k];
        INDArray ow = buf.ow[k];
        if (g > 0) {
            StridedGemm.sgemm(false, true, m, g, d, 1f, proj, qOff, 5 * e, buf.kg, (long) hh * g * d, d,
                    0f, sg, 0, g);
        }
        // sub-block rows [i0, i1) see window columns [c0, c1): the union of their bands
        for (int i0 = 0; i0 < m; i0 += per) {
            int i1 = Math.min(m, i0 + per);
            int c0 = Math.max(i0, tLo);
            int c1 = Math.min(i1 + 2 * w, tHi);
            StridedGemm.sgemm(false, true, i1 - i0, c1 - c0, d, 1f, proj, qOff + (long) i0 * 5 * e, 5 * e,
                    keysByHead, kvBase + (long) c0 * d, d, 0f, sw, (long) i0 * w3 + c0, w3);
        }
        long t1 = System.nanoTime();
        FloatBuffer swf = floats(sw);
        ByteBuffer sgb = bytes(sg);
        ByteBuffer swb = bytes(sw);
        float[] inv = buf.inv[k];
        float[] keyBias = rm.windowKeyBiasF[r];
        for (int i = 0; i < m; i++) {
            int i0 = i / per * per;
            int c0 = Math.max(i0, tLo);
            int c1 = Math.min(Math.min(m, i0 + per) + 2 * w, tHi);
            int b0 = Math.max(i, tLo);
            int b1 = Math.min(i + 2 * w + 1, tHi);
            int len = b1 - b0;
            // in place: the global-slot and window-key biases, exp(s - max) over both segments, 0 around the band
            inv[i] = 1f / ops.expShiftedWithBias(sgb, 4 * i * g, g, slotBias, 0,
                    swb, 4 * (i * w3 + b0), len, keyBias, q0 + b0);
            swf.put(i * w3 + c0, buf.zeros, 0, b0 - c0);
            swf.put(i * w3 + b1, buf.zeros, 0, c1 - b1);
        }
        long t2 = System.nanoTime();
        for (int i0 = 0; i0 < m; i0 += per) {
            int i1 = Math.min(m, i0 + per);
            int c0 = Math.max(i0, tLo);
            int c1 = Math.min(i1 + 2 * w, tHi);
            StridedGemm.sgemm(false, false, i1 - i0, d, c1 - c0, 1f, sw, (long) i0 * w3 + c0, w3,
                    valuesByHead, kvBase + (long) c0 * d, d, 0f, ow, (long) i0 * d, d);
        }
        if (g > 0) {
            StridedGemm.sgemm(false, false, m, d, g, 1f, sg, 0, g, buf.vg, (long) hh * g * d, d, 1f, ow, 0, d);
        }
        FloatBuffer owf = floats(ow);
        float[] s = buf.scratch[k];
        float[] local = rm.localRowsF[r];
        long out = ((long) r * n + q0) * e + (long) hh * d;
        for (int i = 0; i < m; i++) {
            owf.get(i * d, s, 0, d);
            ops.scale(s, 0, d, inv[i] * local[q0 + i]);
            af.put((int) (out + (long) i * e), s, 0, d);
        }
        long t3 = System.nanoTime();
        nanos[0] += t1 - t0;
        nanos[1] += t2 - t1;
        nanos[2] += t3 - t2;
    }

    /**
     * Dense (n x n) attention of batch row r into its rows of {@code attn} (times the local-row indicator), with
     * the band, global keys and padding as a mask.
     */
    private void dense(INDArray proj, int r, RowMasks rm, LayerBuffers buf, int n, INDArray attn) {
        int e = c.hiddenSize();
        int d = c.headDim();
        int w = buf.w;
        INDArray bias = rm.dense.computeIfAbsent(r, rr -> denseBias(rm, rr, n, w));
        INDArray scores = Nd4j.create(DataType.FLOAT, n, n);
        INDArray o = Nd4j.create(DataType.FLOAT, n, d);
        long base = (long) r * n * 5 * e;
        FloatBuffer of = floats(o);
        FloatBuffer af = floats(attn);
        float[] local = rm.localRowsF[r];
        float[] s = new float[d];
        for (int hh = 0; hh < c.numHeads(); hh++) {
            long col = (long) hh * d;
            StridedGemm.sgemm(false, true, n, n, d, 1f, proj, base + col, 5 * e, proj, base + e + col, 5 * e,
                    0f, scores, 0, n);
            scores.addi(bias);
            Nd4j.exec(new SoftMax(scores, scores, 1));
            StridedGemm.sgemm(false, false, n, d, n, 1f, scores, 0, n, proj, base + 2L * e + col, 5 * e,
                    0f, o, 0, d);
            for (int i = 0; i < n; i++) {
                of.get(i * d, s, 0, d);
                ops.scale(s, 0, d, local[i]);
                af.put((int) (((long) r * n + i) * e + col), s, 0, d);
            }
        }
        free(scores, o);
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
    /** {@link #floats}, as bytes in native order (for the row kernels that work in place on native buffers). */
    private static ByteBuffer bytes(INDArray a) {
        floats(a);
        return a.data().asNio().order(ByteOrder.nativeOrder());
    }

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
