package org.locore.model.longformer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.floating.RSqrt;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

/**
 * Runs {@link LongformerEncoder}'s computation eagerly on ND4J arrays for inference (no dropout, no gradients):
 * the same operations as the SameDiff graph on the same parameter arrays (read by name on every run, so in-place
 * updates are seen), with fewer and larger steps. Per layer: one fused 2-D GEMM {@code [B*n, E] x [E, 5E]} for the
 * query, key, value, global-key and global-value projections; the global query projection only for the global
 * rows; banded attention batched over heads and blocks of {@code w} queries: each block's keys and values laid
 * out as {@code [G global keys | previous, own, next block]} in reused {@code [H nb, G + 3w, d]} buffers, one
 * batched GEMM for the {@code [H nb, w, G + 3w]} scores, bias (broadcast over heads) and softmax in place, one
 * batched GEMM for the values; the global rows against all keys, batched over heads; output projection and FFN as
 * 2-D GEMMs into reused buffers; LayerNorm and the exact GELU in place. Temporaries' native memory is released at
 * once, so the peak stays near the working set (under 2 GB at LOCORE-base size).
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

    private final LongformerConfig c;
    private final int layers;
    private final String prefix;
    private final Function<String, INDArray> param;
    private final Attention attention;
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
        final Map<Integer, INDArray> dense = new HashMap<>();

        RowMasks(BandedAttention.Masks masks, int[][] attention, int[][] global) {
            this.masks = masks;
            int b = attention.length;
            int n = attention[0].length;
            globalIdx = new int[b][];
            localRows = new INDArray[b];
            keyBias = new INDArray[b];
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
        double eps = c.layerNormEps();
        mark = System.nanoTime();
        INDArray x = inputsEmbeds.castTo(DataType.FLOAT).dup('c').reshape(bn, e);
        INDArray pos = p("embeddings.position_embeddings.weight")
                .get(interval(c.firstPosition(), c.firstPosition() + n), all()).dup('c');
        x.reshape(b, (long) n * e).addiRowVector(pos.reshape(1, (long) n * e));
        free(pos);
        x.addiRowVector(p("embeddings.token_type_embeddings.weight").getRow(0).dup());
        layerNorm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), eps, x);
        lap("embeddings");

        Map<Integer, RowMasks> masksByWindow = new HashMap<>();
        Map<Integer, LayerBuffers> buffersByWindow = new HashMap<>();
        INDArray proj = Nd4j.create(DataType.FLOAT, bn, 5L * e);
        INDArray attn = Nd4j.create(DataType.FLOAT, bn, e);
        INDArray a = Nd4j.create(DataType.FLOAT, bn, e);
        INDArray mlp = Nd4j.create(DataType.FLOAT, bn, c.intermediateSize());
        INDArray erfBuf = Nd4j.create(DataType.FLOAT, bn, c.intermediateSize());
        for (int l = 0; l < layers; l++) {
            int w = c.oneSidedWindow(l);
            RowMasks rm = masksByWindow.computeIfAbsent(w, ww -> new RowMasks(
                    BandedAttention.Masks.of(attentionMask, globalMask, ww, globalSlots, DataType.FLOAT),
                    attentionMask, globalMask));
            lap("masks");
            String s = "encoder.layer." + l + ".attention.self.";
            INDArray w5 = Nd4j.concat(0, p(s + "query.weight"), p(s + "key.weight"), p(s + "value.weight"),
                    p(s + "key_global.weight"), p(s + "value_global.weight"));
            INDArray b5 = Nd4j.concat(0, p(s + "query.bias"), p(s + "key.bias"), p(s + "value.bias"),
                    p(s + "key_global.bias"), p(s + "value_global.bias"));
            Nd4j.gemm(x, w5, proj, false, true, 1.0, 0.0);
            proj.addiRowVector(b5.reshape(1, 5L * e));
            free(w5, b5);
            lap("qkv+global k,v projection (1 GEMM)");
            LayerBuffers buf = buffersByWindow.computeIfAbsent(w, ww -> new LayerBuffers(c, n, ww, rm.masks.globals(),
                    attention == Attention.BANDED));
            for (int r = 0; r < b; r++) {
                attend(proj, x, r, rm, buf, p(s + "query_global.weight"), p(s + "query_global.bias"), attn);
            }
            String o = "encoder.layer." + l + ".";
            Nd4j.gemm(attn, p(o + "attention.output.dense.weight"), a, false, true, 1.0, 0.0);
            a.addiRowVector(p(o + "attention.output.dense.bias"));
            lap("attention output projection");
            a.addi(x);
            layerNorm(a, p(o + "attention.output.LayerNorm.weight"), p(o + "attention.output.LayerNorm.bias"), eps, x);
            lap("residual + LayerNorm");
            Nd4j.gemm(x, p(o + "intermediate.dense.weight"), mlp, false, true, 1.0, 0.0);
            mlp.addiRowVector(p(o + "intermediate.dense.bias"));
            lap("FFN in (GEMM)");
            geluErfInPlace(mlp, erfBuf);
            lap("GELU");
            Nd4j.gemm(mlp, p(o + "output.dense.weight"), a, false, true, 1.0, 0.0);
            a.addiRowVector(p(o + "output.dense.bias"));
            lap("FFN out (GEMM)");
            a.addi(x);
            layerNorm(a, p(o + "output.LayerNorm.weight"), p(o + "output.LayerNorm.bias"), eps, x);
            lap("residual + LayerNorm");
        }
        free(proj, attn, a, mlp, erfBuf);
        for (LayerBuffers buf : buffersByWindow.values()) {
            free(buf.q, buf.kPad, buf.vPad, buf.kAll, buf.vAll, buf.kg, buf.vg, buf.out, buf.kWin, buf.vWin,
                    buf.scores);
        }
        return x.reshape(b, n, e);
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
        /** window keys and values {@code [H nb, G + 3w, d]}, window scores {@code [H nb, w, G + 3w]} (banded only). */
        final INDArray kWin;
        final INDArray vWin;
        final INDArray scores;

        LayerBuffers(LongformerConfig c, int n, int w, int g, boolean banded) {
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
            long cols = g + 3L * w;
            kWin = banded ? Nd4j.create(DataType.FLOAT, (long) h * nb, cols, d) : null;
            vWin = banded ? Nd4j.create(DataType.FLOAT, (long) h * nb, cols, d) : null;
            scores = banded ? Nd4j.create(DataType.FLOAT, (long) h * nb, w, cols) : null;
        }
    }

    /** Attention of batch row r: writes rows {@code [r n, (r + 1) n)} of {@code attn} (before the output projection). */
    private void attend(INDArray proj, INDArray x, int r, RowMasks rm, LayerBuffers buf, INDArray qgW, INDArray qgB,
                        INDArray attn) {
        int e = c.hiddenSize();
        int h = c.numHeads();
        int d = c.headDim();
        int n = rm.masks.length();
        int w = buf.w;
        int g = buf.g;
        double scale = 1.0 / Math.sqrt(d);
        int[] globalIdx = rm.globalIdx[r];
        int gr = globalIdx.length;
        long r0 = (long) r * n;

        // [n, 5E] -> [5, H, n, d]
        INDArray split = proj.get(interval(r0, r0 + n), all()).reshape('c', n, 5, h, d).permute(1, 2, 0, 3);
        buf.q.get(all(), interval(0, n), all()).assign(split.get(point(0), all(), all(), all())).muli(scale);
        buf.kPad.get(all(), interval(w, w + n), all()).assign(split.get(point(1), all(), all(), all()));
        buf.vPad.get(all(), interval(w, w + n), all()).assign(split.get(point(2), all(), all(), all()));
        buf.kAll.assign(split.get(point(3), all(), all(), all()));
        buf.vAll.assign(split.get(point(4), all(), all(), all()));
        buf.kg.assign(0);
        buf.vg.assign(0);
        if (gr > 0) {
            INDArray gRows = Nd4j.pullRows(proj.get(interval(r0, r0 + n), all()), 1, globalIdx); // [gr, 5E]
            buf.kg.get(all(), interval(0, gr), all()).assign(
                    gRows.get(all(), interval(e, 2L * e)).reshape(gr, h, d).permute(1, 0, 2));
            buf.vg.get(all(), interval(0, gr), all()).assign(
                    gRows.get(all(), interval(2L * e, 3L * e)).reshape(gr, h, d).permute(1, 0, 2));
            free(gRows);
        }
        lap("head layout");

        if (attention == Attention.BANDED) {
            banded(r, rm, buf);
        } else {
            dense(r, rm, buf, n);
        }
        lap(attention == Attention.BANDED ? "window attention" : "dense attention");
        INDArray rows = attn.get(interval(r0, r0 + n), all());
        INDArray merged = buf.out.get(all(), interval(0, n), all()).permute(1, 0, 2).dup('c');
        rows.assign(merged.reshape(n, e));
        free(merged);
        rows.muliColumnVector(rm.localRows[r]);
        lap("head merge");

        if (gr > 0) {
            INDArray hg = Nd4j.pullRows(x.get(interval(r0, r0 + n), all()), 1, globalIdx); // [gr, E]
            INDArray qg = Nd4j.create(DataType.FLOAT, gr, e);
            Nd4j.gemm(hg, qgW, qg, false, true, 1.0, 0.0);
            qg.addiRowVector(qgB).muli(scale);
            INDArray qgh = qg.reshape(gr, h, d).permute(1, 0, 2).dup('c');
            INDArray gs = Nd4j.matmul(qgh, buf.kAll, false, true, false); // [h, gr, n]
            gs.reshape((long) h * gr, n).addiRowVector(rm.keyBias[r]);
            Nd4j.exec(new SoftMax(gs, gs, 2));
            INDArray gout = Nd4j.matmul(gs, buf.vAll, false, false, false); // [h, gr, d]
            INDArray flat = gout.permute(1, 0, 2).dup('c');
            for (int s = 0; s < gr; s++) {
                rows.putRow(globalIdx[s], flat.get(point(s), all(), all()).reshape(1, e));
            }
            free(hg, qg, qgh, gs, gout, flat);
            lap("global attention");
        }
    }

    /**
     * Banded attention of batch row r into {@code buf.out}, batched over heads and blocks: the keys each block of
     * {@code w} queries sees are laid out as {@code [G global keys | previous, own, next block]} ({@code [H nb,
     * G + 3w, d]}, the graph's column order), so scores, bias (broadcast over heads), softmax and the value product
     * are one operation each.
     */
    private void banded(int r, RowMasks rm, LayerBuffers buf) {
        int h = c.numHeads();
        int d = c.headDim();
        int w = buf.w;
        int g = buf.g;
        int nb = buf.nb;
        int np = buf.np;
        long cols = g + 3L * w;
        long bhnb = (long) h * nb;
        INDArray kWin = buf.kWin.reshape(h, nb, cols, d);
        INDArray vWin = buf.vWin.reshape(h, nb, cols, d);
        for (int s = 0; s < 3; s++) {
            INDArrayIndex part = interval(g + (long) s * w, g + (long) (s + 1) * w);
            INDArrayIndex rowsOf = interval((long) s * w, (long) s * w + np);
            kWin.get(all(), all(), part, all()).assign(buf.kPad.get(all(), rowsOf, all()).reshape(h, nb, w, d));
            vWin.get(all(), all(), part, all()).assign(buf.vPad.get(all(), rowsOf, all()).reshape(h, nb, w, d));
        }
        if (g > 0) {
            for (int cb = 0; cb < nb; cb++) {
                kWin.get(all(), point(cb), interval(0, g), all()).assign(buf.kg);
                vWin.get(all(), point(cb), interval(0, g), all()).assign(buf.vg);
            }
        }
        lap("w: key/value windows");
        INDArray scores = buf.scores;
        Nd4j.matmul(buf.q.reshape(bhnb, w, d), buf.kWin, scores, false, true, false);
        lap("w: scores (batched GEMM)");
        INDArray bias = rm.masks.windowBiasArray().get(point(r), all(), all(), all(), all()).reshape(1, nb * w * cols);
        scores.reshape(h, nb * w * cols).addiRowVector(bias);
        lap("w: bias");
        Nd4j.exec(new SoftMax(scores, scores, 2));
        lap("w: softmax");
        Nd4j.matmul(scores, buf.vWin, buf.out.reshape(bhnb, w, d), false, false, false);
        lap("w: values (batched GEMM)");
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

    /** {@link GraphOps#layerNorm}'s steps: centre, biased variance, times rsqrt(var + eps), weight, bias. */
    static void layerNorm(INDArray x, INDArray w, INDArray b, double eps, INDArray out) {
        INDArray mean = x.mean(true, 1);
        if (out != x) {
            out.assign(x);
        }
        out.subiColumnVector(mean);
        INDArray sq = out.mul(out);
        INDArray var = sq.mean(true, 1);
        free(sq);
        var.addi(eps);
        Nd4j.exec(new RSqrt(var, var));
        out.muliColumnVector(var).muliRowVector(w).addiRowVector(b);
        free(mean, var);
    }

    /** {@link GraphOps#gelu} in place: {@code x * (erf(x / sqrt 2) + 1) * 0.5}. */
    static void geluErfInPlace(INDArray x, INDArray buf) {
        buf.assign(x).muli(1.0 / Math.sqrt(2.0));
        Nd4j.exec(new Erf(buf, buf));
        buf.addi(1.0);
        x.muli(buf).muli(0.5);
    }
}
