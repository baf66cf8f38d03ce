package org.locore.model.vit;

import org.locore.model.rowops.RowOps;
import org.locore.model.rowops.StridedGemm;
import org.locore.model.rowops.Workers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

/**
 * Runs {@link Dinov2Vit}'s forward pass eagerly on ND4J arrays, the same computation as the SameDiff graph with
 * fewer, larger steps (the design of the Longformer's executor): the patch embedding as one GEMM of the unfolded
 * patches ({@code [N, 3 p p] x [3 p p, C]}) written into the token buffer after the CLS and register rows; per
 * block one fused {@code [T, C] x [C, 3C]} QKV GEMM, its bias added in place; per head and block of query rows
 * the scores {@code Q K^T / sqrt(d)} by one GEMM reading that head's queries and keys in place in the QKV buffer
 * ({@link StridedGemm}, leading dimension {@code 3C}) into a reused buffer, {@code exp(s - max)} in place, one GEMM
 * straight into that head's columns of the attention output and their division by the row sums (no head split or
 * merge copies); projection and MLP as 2-D GEMMs into preallocated
 * buffers. The element-wise steps (LayerNorm, bias + exact GELU, layer-scaled residual, the
 * softmax's exponentials) are fused row kernels ({@link RowOps}) that copy rows of the native buffers into Java
 * arrays (or read the scores in place), run SIMD code there (Vector API when enabled) and copy back, split over
 * the ND4J thread count. All buffers are allocated once per token count and reused: the working set
 * is about {@code 4 T (7 C + M + 2 chunk)} bytes (M the MLP width) beside the weights.
 *
 * <p>Attention can run its (head, row block) jobs one after the other with multi-threaded GEMMs, or on parallel
 * Java threads with single-threaded GEMMs (the BLAS library set to one thread for the duration, restored afterwards);
 * see {@link Options}.
 *
 * <p>Not thread-safe.
 */
final class VitExecutor {
    /**
     * Scheduling choices.
     *
     * @param chunkRows      query rows per attention job (scores buffer {@code [chunkRows, T]} per thread)
     * @param parallelHeads  true: attention jobs on parallel Java threads with single-threaded GEMMs; false: one
     *                       job at a time with ND4J's multi-threaded GEMMs and the softmax rows split over threads
     */
    record Options(int chunkRows, boolean parallelHeads) {
        /**
         * The defaults, overridable by the system properties {@code locore.vit.chunk} and
         * {@code locore.vit.parallelHeads} (576 rows in parallel jobs: best in same-JVM comparisons on the 2-core
         * benchmark machine with OpenBLAS and with MKL, see BENCHMARKS.md).
         */
        static Options defaults() {
            return new Options(Integer.getInteger("locore.vit.chunk", 576),
                    Boolean.parseBoolean(System.getProperty("locore.vit.parallelHeads", "true")));
        }
    }

    /** The weights of one block: GEMM matrices as {@code [in, out]} arrays, vectors as Java arrays. */
    record Block(float[] norm1W, float[] norm1B, INDArray qkvW, float[] qkvB, INDArray projW, float[] projB,
                 float[] ls1, float[] norm2W, float[] norm2B, INDArray fc1W, float[] fc1B, INDArray fc2W,
                 float[] fc2B, float[] ls2) {
    }

    /**
     * All weights.
     *
     * @param patchW    {@code [3 p p, C]}
     * @param patchB    {@code C}
     * @param clsPos    CLS token plus its position embedding, {@code C}
     * @param registers {@code R * C}
     */
    record Weights(INDArray patchW, float[] patchB, float[] clsPos, float[] registers, Block[] blocks, float[] normW,
                   float[] normB) {
    }

    private final VitConfig config;
    private final Weights w;
    private final RowOps ops;
    private final Options options;
    private final Map<String, Double> stageSeconds = new LinkedHashMap<>();
    private long mark;
    private Buffers buffers;

    VitExecutor(VitConfig config, Weights weights, RowOps ops, Options options) {
        this.config = config;
        this.w = weights;
        this.ops = ops;
        this.options = options;
    }

    /**
     * Wall-clock seconds per stage (patch embedding, LayerNorms, QKV GEMM, QKV bias, attention,
     * projection GEMM, residuals, MLP GEMMs, GELU), summed over all runs: a profile.
     */
    Map<String, Double> stageSeconds() {
        return new LinkedHashMap<>(stageSeconds);
    }

    private void lap(String stage) {
        long now = System.nanoTime();
        stageSeconds.merge(stage, (now - mark) / 1e9, Double::sum);
        mark = now;
    }

    /** Working arrays for one token count. */
    private static final class Buffers {
        final int t;
        /** residual stream {@code [T, C]}; normed copy {@code [T, C]}; attention (heads merged) {@code [T, C]}. */
        final INDArray x;
        final INDArray h;
        final INDArray attn;
        /** GEMM output {@code [T, C]} (projection, MLP out). */
        final INDArray a;
        final INDArray qkv;
        final INDArray mlp;
        /** one scores buffer {@code [chunk, T]} per thread. */
        final INDArray[] scores;
        /** per thread: 1 / softmax row sums of its current scores block. */
        final float[][] rowScale;
        /** one row scratch per thread, long enough for any row. */
        final float[][] scratch;
        final float[][] scratch2;

        Buffers(VitConfig c, int t, int chunk, int threads) {
            this.t = t;
            int e = c.width();
            x = Nd4j.create(DataType.FLOAT, t, e);
            h = Nd4j.create(DataType.FLOAT, t, e);
            attn = Nd4j.create(DataType.FLOAT, t, e);
            a = Nd4j.create(DataType.FLOAT, t, e);
            qkv = Nd4j.create(DataType.FLOAT, t, 3L * e);
            mlp = Nd4j.create(DataType.FLOAT, t, c.mlpHidden());
            scores = new INDArray[threads];
            for (int i = 0; i < threads; i++) {
                scores[i] = Nd4j.create(DataType.FLOAT, Math.min(chunk, t), t);
            }
            int len = Math.max(Math.max(3 * e, c.mlpHidden()), t);
            scratch = new float[threads][len];
            rowScale = new float[threads][Math.min(chunk, t)];
            scratch2 = new float[threads][len];
        }

        void close() {
            for (INDArray arr : new INDArray[]{x, h, attn, a, qkv, mlp}) {
                free(arr);
            }
            for (INDArray s : scores) {
                free(s);
            }
        }
    }

    /**
     * Runs the network.
     *
     * @param patches unfolded patches {@code [N, 3 p p]} (float, c order)
     * @param pos     position table for the patch grid {@code [N, C]}
     * @return the final-normed tokens {@code [1 + R + N, C]} (CLS, registers, patches); a new array
     */
    INDArray run(INDArray patches, INDArray pos) {
        int c = config.width();
        int first = 1 + config.registers();
        int n = (int) patches.size(0);
        int t = first + n;
        int threads = Workers.count();
        if (buffers == null || buffers.t != t || buffers.scratch.length != threads) {
            if (buffers != null) {
                buffers.close();
            }
            buffers = new Buffers(config, t, options.chunkRows(), threads);
        }
        Buffers b = buffers;
        mark = System.nanoTime();
        // tokens: [CLS + pos0, registers, patches W + bias + pos]
        INDArray xPatches = b.x.get(interval(first, t), all());
        Nd4j.gemm(patches, w.patchW(), xPatches, false, false, 1.0, 0.0);
        FloatBuffer xf = floats(b.x);
        float[] s0 = b.scratch[0];
        for (int r = first; r < t; r++) {
            xf.get(r * c, s0, 0, c);
            ops.addBias(s0, 0, s0, 0, c, w.patchB(), 0);
            xf.put(r * c, s0, 0, c);
        }
        xPatches.addi(pos);
        xf.put(0, w.clsPos(), 0, c);
        xf.put(c, w.registers(), 0, config.registers() * c);
        lap("patch embedding");

        for (Block blk : w.blocks()) {
            layerNorm(b, b.x, b.h, blk.norm1W(), blk.norm1B());
            lap("LayerNorm");
            Nd4j.gemm(b.h, blk.qkvW(), b.qkv, false, false, 1.0, 0.0);
            lap("qkv GEMM");
            qkvBias(b, blk.qkvB());
            lap("qkv bias");
            attention(b);
            Nd4j.gemm(b.attn, blk.projW(), b.a, false, false, 1.0, 0.0);
            lap("projection GEMM");
            residual(b, blk.projB(), blk.ls1());
            lap("bias + layer scale + residual");
            layerNorm(b, b.x, b.h, blk.norm2W(), blk.norm2B());
            lap("LayerNorm");
            Nd4j.gemm(b.h, blk.fc1W(), b.mlp, false, false, 1.0, 0.0);
            lap("MLP fc1 GEMM");
            biasGelu(b, blk.fc1B());
            lap("bias + GELU");
            Nd4j.gemm(b.mlp, blk.fc2W(), b.a, false, false, 1.0, 0.0);
            lap("MLP fc2 GEMM");
            residual(b, blk.fc2B(), blk.ls2());
            lap("bias + layer scale + residual");
        }
        INDArray tokens = Nd4j.create(DataType.FLOAT, t, c);
        layerNorm(b, b.x, tokens, w.normW(), w.normB());
        lap("LayerNorm");
        return tokens;
    }

    /** Splits {@code rows} rows into one contiguous range per thread ({@link Workers#rows}). */
    private void parallel(Buffers b, int rows, Workers.RowTask task) {
        Workers.rows(b.scratch.length, rows, task);
    }

    private void layerNorm(Buffers b, INDArray in, INDArray out, float[] wt, float[] bias) {
        int c = config.width();
        float eps = (float) config.lnEps();
        FloatBuffer src = floats(in);
        FloatBuffer dst = floats(out);
        parallel(b, b.t, (k, r0, r1) -> {
            float[] s = b.scratch[k];
            for (int r = r0; r < r1; r++) {
                src.get(r * c, s, 0, c);
                ops.layerNorm(s, s, 0, c, wt, bias, eps);
                dst.put(r * c, s, 0, c);
            }
        });
    }

    /**
     * {@code qkv += bias} in place ({@code [T, 3C]}, columns (part, head, d)); the attention then reads each head's
     * queries, keys and values in place (leading dimension {@code 3C}).
     */
    private void qkvBias(Buffers b, float[] bias) {
        int c = config.width();
        FloatBuffer f = floats(b.qkv);
        parallel(b, b.t, (k, r0, r1) -> {
            float[] s = b.scratch[k];
            for (int r = r0; r < r1; r++) {
                f.get(r * 3 * c, s, 0, 3 * c);
                ops.addBias(s, 0, s, 0, 3 * c, bias, 0);
                f.put(r * 3 * c, s, 0, 3 * c);
            }
        });
    }

    /** {@code x += g * (a + bias)}. */
    private void residual(Buffers b, float[] bias, float[] g) {
        int c = config.width();
        FloatBuffer xf = floats(b.x);
        FloatBuffer af = floats(b.a);
        parallel(b, b.t, (k, r0, r1) -> {
            float[] xs = b.scratch[k];
            float[] as = b.scratch2[k];
            for (int r = r0; r < r1; r++) {
                xf.get(r * c, xs, 0, c);
                af.get(r * c, as, 0, c);
                ops.residual(xs, as, 0, c, bias, g);
                xf.put(r * c, xs, 0, c);
            }
        });
    }

    /** {@code mlp = gelu(mlp + bias)}. */
    private void biasGelu(Buffers b, float[] bias) {
        int m = config.mlpHidden();
        FloatBuffer f = floats(b.mlp);
        parallel(b, b.t, (k, r0, r1) -> {
            float[] s = b.scratch[k];
            for (int r = r0; r < r1; r++) {
                f.get(r * m, s, 0, m);
                ops.biasGelu(s, 0, m, bias);
                f.put(r * m, s, 0, m);
            }
        });
    }

    /** Attention sub-stages, in the order of {@link #attentionJob}'s laps. */
    private static final String[] ATTENTION_STAGES = {"attention: scores GEMM", "attention: softmax (exp)",
            "attention: values GEMM + 1/sum"};

    /**
     * Softmax attention of every head into {@code out}, in jobs of (head, block of query rows) taken in turn by the
     * workers (dynamically, so that a worker slowed by other processes takes fewer). The attention's wall time is
     * split over {@link #ATTENTION_STAGES} in proportion to the workers' summed time in each.
     */
    private void attention(Buffers b) {
        int hn = config.heads();
        int t = b.t;
        int chunk = Math.min(options.chunkRows(), t);
        int chunks = (t + chunk - 1) / chunk;
        int jobs = hn * chunks;
        double scale = 1.0 / Math.sqrt(config.headDim());
        int threads = b.scratch.length;
        long[][] nanos = new long[threads][ATTENTION_STAGES.length];
        long start = System.nanoTime();
        if (!options.parallelHeads() || threads == 1) {
            for (int j = 0; j < jobs; j++) {
                attentionJob(b, 0, j, chunks, chunk, scale, true, nanos[0]);
            }
        } else {
            Workers.jobs(threads, jobs, (k, j) -> attentionJob(b, k, j, chunks, chunk, scale, false, nanos[k]));
        }
        Workers.splitWallTime((System.nanoTime() - start) / 1e9, nanos, ATTENTION_STAGES, stageSeconds);
        mark = System.nanoTime();
    }

    /**
     * Job j: head {@code j / chunks}, query rows of block {@code j % chunks}: scores by one GEMM into worker k's
     * buffer, {@code exp(s - max)} per row (rows split over the threads when {@code splitSoftmax}), values by one
     * GEMM into the head's output rows, which are then divided by the row sums (the softmax's normalisation on
     * {@code d} instead of {@code T} columns). Adds its time per sub-stage to {@code nanos}.
     */
    private void attentionJob(Buffers b, int k, int j, int chunks, int chunk, double scale, boolean splitSoftmax,
                              long[] nanos) {
        int t = b.t;
        int hh = j / chunks;
        int r0 = (j % chunks) * chunk;
        int r1 = Math.min(t, r0 + chunk);
        int c = config.width();
        int d = config.headDim();
        INDArray sc = b.scores[k];
        long t0 = System.nanoTime();
        StridedGemm.sgemm(false, true, r1 - r0, t, d, (float) scale, b.qkv, (long) r0 * 3 * c + (long) hh * d, 3 * c,
                b.qkv, c + (long) hh * d, 3 * c, 0f, sc, 0, t);
        long t1 = System.nanoTime();
        ByteBuffer sb = bytes(b.scores[k]);
        float[] inv = b.rowScale[k];
        if (splitSoftmax) {
            parallel(b, r1 - r0, (kk, q0, q1) -> expRows(sb, t, q0, q1, inv));
        } else {
            expRows(sb, t, 0, r1 - r0, inv);
        }
        long t2 = System.nanoTime();
        long out = (long) r0 * c + (long) hh * d;
        StridedGemm.sgemm(false, false, r1 - r0, d, t, 1f, sc, 0, t, b.qkv, 2L * c + (long) hh * d, 3 * c,
                0f, b.attn, out, c);
        // the softmax's normalisation, applied to the d-wide output rows instead of the t-wide scores
        FloatBuffer of = floats(b.attn);
        float[] s = b.scratch[k];
        for (int r = 0; r < r1 - r0; r++) {
            of.get((int) (out + (long) r * c), s, 0, d);
            ops.scale(s, 0, d, inv[r]);
            of.put((int) (out + (long) r * c), s, 0, d);
        }
        long t3 = System.nanoTime();
        nanos[0] += t1 - t0;
        nanos[1] += t2 - t1;
        nanos[2] += t3 - t2;
    }

    /** Rows {@code [q0, q1)} of an {@code [rows, n]} buffer: {@code exp(s - max)} in place, 1 / row sum into inv. */
    private void expRows(ByteBuffer f, int n, int q0, int q1, float[] inv) {
        for (int r = q0; r < q1; r++) {
            inv[r] = 1f / ops.expShifted(f, 4 * r * n, n);
        }
    }

    /** The native buffer of an array this executor allocated (c order, offset 0) as floats. */
    private static FloatBuffer floats(INDArray a) {
        if (a.offset() != 0 || a.ordering() != 'c' || a.isView()) {
            throw new IllegalStateException("expected a whole c-order array");
        }
        return a.data().asNioFloat();
    }

    /** {@link #floats}, as bytes in native order. */
    private static ByteBuffer bytes(INDArray a) {
        floats(a);
        return a.data().asNio().order(ByteOrder.nativeOrder());
    }

    private static void free(INDArray a) {
        if (a != null && a.closeable()) {
            a.close();
        }
    }
}
