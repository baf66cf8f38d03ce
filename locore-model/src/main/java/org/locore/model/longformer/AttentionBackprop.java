package org.locore.model.longformer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;

import static org.locore.model.longformer.LongformerExecutor.free;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

/**
 * One layer's self-attention ({@link BandedAttention}'s semantics) for training, eagerly, one batch row at a time:
 * the forward pass with dropout on the attention probabilities, and the backward pass, which recomputes the
 * probabilities from the projections (nothing of size {@code n x window} is kept between the two) and returns the
 * gradients of the five projections and of the global-query projection.
 *
 * <p>Layout as in {@link LongformerExecutor}: queries in blocks of {@code w}; block c sees the keys
 * {@code [G global keys | blocks c-1, c, c+1]}. Heads are processed in chunks whose {@code [chunk nb, w, G + 3w]}
 * probability buffers stay under {@value #CHUNK_BYTES} bytes, so the transient memory is a few such buffers
 * whatever the head count. Backward of the window part per chunk, with P the probabilities, M the dropout mask
 * and dO the output gradient: {@code dV = (P M)^T dO}, {@code dP = (dO V^T) M}, {@code dS = P (dP - rowsum(dP P))},
 * {@code dQ = dS K}, {@code dK = dS^T Q}; window-key gradients are added back to their tokens (three shifted
 * blocks) and the global-key columns summed over blocks. The global rows (all keys, separate projections) the same
 * way over all heads at once.
 *
 * <p>Buffers are allocated for one geometry (n, w, G) and reused across layers and passes; {@link #close} releases
 * them. Not thread-safe.
 */
final class AttentionBackprop implements AutoCloseable {
    /** Upper bound on one head chunk's probability buffer. */
    static final long CHUNK_BYTES = 64L << 20;

    private final int h;
    private final int d;
    private final int e;
    private final int n;
    private final int w;
    private final int g;
    private final int nb;
    private final int np;
    private final int cols;
    private final int chunk;
    private final double scale;
    private final DataType dt;

    /** scaled queries {@code [H, np, d]}, zero rows past n. */
    private final INDArray q;
    /** keys and values {@code [H, w + np + w, d]}, zero padding on both sides. */
    private final INDArray kPad;
    private final INDArray vPad;
    /** global keys and values over all tokens {@code [H, n, d]}. */
    private final INDArray kAll;
    private final INDArray vAll;
    /** ordinary keys and values at the global tokens {@code [H, G, d]}, zero for unused slots. */
    private final INDArray kg;
    private final INDArray vg;
    /** per head chunk: window keys and values {@code [chunk nb, G + 3w, d]}, probabilities {@code [chunk nb, w, G + 3w]}. */
    private final INDArray kWin;
    private final INDArray vWin;
    private final INDArray probs;
    /** attention output {@code [H, np, d]} (forward), output gradient {@code [H, np, d]} (backward, zero past n). */
    private final INDArray out;
    /** backward: gradients of the scaled queries {@code [H, np, d]}, padded keys and values, global-slot keys/values. */
    private INDArray dQ;
    private INDArray dKPad;
    private INDArray dVPad;
    private INDArray dKg;
    private INDArray dVg;
    private INDArray dProbs;
    private INDArray tmp;

    /**
     * @param c  configuration (heads, head size)
     * @param n  sequence length
     * @param w  one-sided window
     * @param g  global slots G
     * @param dt floating type of the arrays
     */
    AttentionBackprop(LongformerConfig c, int n, int w, int g, DataType dt) {
        this.h = c.numHeads();
        this.d = c.headDim();
        this.e = c.hiddenSize();
        this.n = n;
        this.w = w;
        this.g = g;
        this.nb = (n + w - 1) / w;
        this.np = nb * w;
        this.cols = g + 3 * w;
        this.scale = 1.0 / Math.sqrt(d);
        this.dt = dt;
        long perHead = (long) nb * w * cols * dt.width();
        int limit = (int) Math.max(1, Math.min(h, CHUNK_BYTES / perHead));
        int ch = limit;
        while (h % ch != 0) ch--;
        this.chunk = ch;
        q = Nd4j.zeros(dt, h, np, d);
        kPad = Nd4j.zeros(dt, h, np + 2L * w, d);
        vPad = Nd4j.zeros(dt, h, np + 2L * w, d);
        kAll = Nd4j.create(dt, h, n, d);
        vAll = Nd4j.create(dt, h, n, d);
        kg = Nd4j.zeros(dt, h, Math.max(g, 1), d);
        vg = Nd4j.zeros(dt, h, Math.max(g, 1), d);
        kWin = Nd4j.create(dt, (long) chunk * nb, cols, d);
        vWin = Nd4j.create(dt, (long) chunk * nb, cols, d);
        probs = Nd4j.create(dt, (long) chunk * nb, w, cols);
        out = Nd4j.zeros(dt, h, np, d);
    }

    private void allocateBackward() {
        if (dQ != null) return;
        dQ = Nd4j.create(dt, h, np, d);
        dKPad = Nd4j.create(dt, h, np + 2L * w, d);
        dVPad = Nd4j.create(dt, h, np + 2L * w, d);
        dKg = Nd4j.create(dt, h, Math.max(g, 1), d);
        dVg = Nd4j.create(dt, h, Math.max(g, 1), d);
        dProbs = Nd4j.create(dt, (long) chunk * nb, w, cols);
        tmp = Nd4j.create(dt, (long) chunk * nb, w, cols);
    }

    /** Dropout of one batch row's probabilities: the sites and the row. */
    record Dropout(DropoutBits window, DropoutBits global, int row) {
    }

    /**
     * Forward of batch row r.
     *
     * @param proj  {@code [n, 5E]} the row's query, key, value, global-key, global-value projections (unscaled)
     * @param x     {@code [n, E]} the layer input of the row
     * @param rm    masks
     * @param r     batch row
     * @param qgW   {@code query_global.weight}
     * @param qgB   {@code query_global.bias}
     * @param drop  the attention dropout, or null
     * @param attn  {@code [n, E]} receives the attention output (before the output projection)
     */
    void forward(INDArray proj, INDArray x, LongformerExecutor.RowMasks rm, int r, INDArray qgW, INDArray qgB,
                 Dropout drop, INDArray attn) {
        int[] globalIdx = rm.globalIdx[r];
        layout(proj, globalIdx);
        for (int h0 = 0; h0 < h; h0 += chunk) {
            windowProbs(h0, rm, r);
            INDArray mask = drop == null || drop.window() == null ? null : windowMask(drop, h0);
            if (mask != null) {
                probs.muli(mask);
                free(mask);
            }
            INDArray o = Nd4j.matmul(probs, vWin); // [chunk nb, w, d]
            out.get(interval(h0, h0 + chunk), all(), all()).assign(o.reshape(chunk, np, d));
            free(o);
        }
        INDArray merged = out.get(all(), interval(0, n), all()).permute(1, 0, 2).dup('c');
        attn.assign(merged.reshape(n, e));
        free(merged);
        attn.muliColumnVector(rm.localRows[r]);
        int gr = globalIdx.length;
        if (gr > 0) {
            INDArray hg = Nd4j.pullRows(x, 1, globalIdx);
            INDArray qgh = globalQueries(hg, qgW, qgB);
            INDArray gp = globalProbs(qgh, rm, r);
            INDArray mask = drop == null || drop.global() == null ? null : globalMask(drop, gr);
            if (mask != null) {
                gp.muli(mask);
                free(mask);
            }
            INDArray gout = Nd4j.matmul(gp, vAll); // [h, gr, d]
            INDArray flat = gout.permute(1, 0, 2).dup('c').reshape(gr, e);
            for (int s = 0; s < gr; s++) {
                attn.putRow(globalIdx[s], flat.getRow(s));
            }
            free(hg, qgh, gp, gout, flat);
        }
    }

    /**
     * Backward of batch row r (after its forward with the same inputs and dropout).
     *
     * @param proj   {@code [n, 5E]} as for {@link #forward}
     * @param x      {@code [n, E]} as for {@link #forward}
     * @param dAttn  {@code [n, E]} the gradient of the attention output
     * @param dProj  {@code [n, 5E]} receives the gradients of the five projections (overwritten)
     * @param dx     {@code [n, E]} the global-query projection's input gradient is added to its rows
     * @param dQgW   accumulates the gradient of {@code query_global.weight}
     * @param dQgB   accumulates the gradient of {@code query_global.bias}
     */
    void backward(INDArray proj, INDArray x, LongformerExecutor.RowMasks rm, int r, INDArray qgW, INDArray qgB,
                  Dropout drop, INDArray dAttn, INDArray dProj, INDArray dx, INDArray dQgW, INDArray dQgB) {
        allocateBackward();
        int[] globalIdx = rm.globalIdx[r];
        int gr = globalIdx.length;
        layout(proj, globalIdx);
        // output gradient of the window part: local rows only, zero rows past n
        INDArray dLocal = dAttn.mulColumnVector(rm.localRows[r]);
        out.get(all(), interval(0, n), all()).assign(dLocal.reshape(n, h, d).permute(1, 0, 2));
        if (np > n) {
            out.get(all(), interval(n, np), all()).assign(0);
        }
        free(dLocal);
        dKPad.assign(0);
        dVPad.assign(0);
        dKg.assign(0);
        dVg.assign(0);
        for (int h0 = 0; h0 < h; h0 += chunk) {
            windowBackward(h0, rm, r, drop);
        }
        INDArray split = dProj.reshape('c', n, 5, h, d).permute(1, 2, 0, 3); // [5, h, n, d]
        dQ.muli(scale);
        split.get(point(0), all(), all(), all()).assign(dQ.get(all(), interval(0, n), all()));
        split.get(point(1), all(), all(), all()).assign(dKPad.get(all(), interval(w, w + n), all()));
        split.get(point(2), all(), all(), all()).assign(dVPad.get(all(), interval(w, w + n), all()));
        for (int s = 0; s < gr; s++) {
            split.get(point(1), all(), point(globalIdx[s]), all()).addi(dKg.get(all(), point(s), all()));
            split.get(point(2), all(), point(globalIdx[s]), all()).addi(dVg.get(all(), point(s), all()));
        }
        if (gr == 0) {
            split.get(point(3), all(), all(), all()).assign(0);
            split.get(point(4), all(), all(), all()).assign(0);
            return;
        }
        // global rows: gout = P' vAll with P = softmax(qg kAll^T + key bias), P' = P M
        INDArray dgout = Nd4j.pullRows(dAttn, 1, globalIdx).reshape(gr, h, d).permute(1, 0, 2).dup('c');
        INDArray hg = Nd4j.pullRows(x, 1, globalIdx);
        INDArray qgh = globalQueries(hg, qgW, qgB);
        INDArray gp = globalProbs(qgh, rm, r);
        INDArray mask = drop == null || drop.global() == null ? null : globalMask(drop, gr);
        INDArray dvAll;
        if (mask != null) {
            INDArray kept = gp.mul(mask);
            dvAll = Nd4j.matmul(kept, dgout, true, false, false);
            free(kept);
        } else {
            dvAll = Nd4j.matmul(gp, dgout, true, false, false);
        }
        INDArray dgs = Nd4j.matmul(dgout, vAll, false, true, false); // [h, gr, n]
        if (mask != null) {
            dgs.muli(mask);
            free(mask);
        }
        softmaxBackward(gp, dgs, (long) h * gr, n);
        INDArray dqg = Nd4j.matmul(dgs, kAll); // [h, gr, d]
        INDArray dkAll = Nd4j.matmul(dgs, qgh, true, false, false); // [h, n, d]
        split.get(point(3), all(), all(), all()).assign(dkAll);
        split.get(point(4), all(), all(), all()).assign(dvAll);
        INDArray dqgRaw = dqg.permute(1, 0, 2).dup('c').reshape(gr, e).muli(scale);
        Nd4j.gemm(dqgRaw, hg, dQgW, true, false, 1.0, 1.0);
        INDArray db = dqgRaw.sum(0);
        dQgB.addi(db);
        INDArray dhg = Nd4j.create(dt, gr, e);
        Nd4j.gemm(dqgRaw, qgW, dhg, false, false, 1.0, 0.0);
        for (int s = 0; s < gr; s++) {
            dx.getRow(globalIdx[s]).addi(dhg.getRow(s));
        }
        free(dgout, hg, qgh, gp, dvAll, dgs, dqg, dkAll, dqgRaw, db, dhg);
    }

    /** The row's projections in per-head layouts (queries scaled). */
    private void layout(INDArray proj, int[] globalIdx) {
        INDArray split = proj.reshape('c', n, 5, h, d).permute(1, 2, 0, 3); // [5, h, n, d]
        q.get(all(), interval(0, n), all()).assign(split.get(point(0), all(), all(), all())).muli(scale);
        kPad.get(all(), interval(w, w + n), all()).assign(split.get(point(1), all(), all(), all()));
        vPad.get(all(), interval(w, w + n), all()).assign(split.get(point(2), all(), all(), all()));
        kAll.assign(split.get(point(3), all(), all(), all()));
        vAll.assign(split.get(point(4), all(), all(), all()));
        kg.assign(0);
        vg.assign(0);
        int gr = globalIdx.length;
        if (gr > 0) {
            INDArray gRows = Nd4j.pullRows(proj, 1, globalIdx); // [gr, 5E]
            kg.get(all(), interval(0, gr), all()).assign(
                    gRows.get(all(), interval(e, 2L * e)).reshape(gr, h, d).permute(1, 0, 2));
            vg.get(all(), interval(0, gr), all()).assign(
                    gRows.get(all(), interval(2L * e, 3L * e)).reshape(gr, h, d).permute(1, 0, 2));
            free(gRows);
        }
    }

    /** Window keys/values of heads {@code [h0, h0 + chunk)} and their probabilities (softmax of scores + bias). */
    private void windowProbs(int h0, LongformerExecutor.RowMasks rm, int r) {
        INDArray kWin4 = kWin.reshape(chunk, nb, cols, d);
        INDArray vWin4 = vWin.reshape(chunk, nb, cols, d);
        for (int s = 0; s < 3; s++) {
            INDArray kSrc = kPad.get(interval(h0, h0 + chunk), interval((long) s * w, (long) s * w + np), all())
                    .reshape(chunk, nb, w, d);
            INDArray vSrc = vPad.get(interval(h0, h0 + chunk), interval((long) s * w, (long) s * w + np), all())
                    .reshape(chunk, nb, w, d);
            kWin4.get(all(), all(), interval(g + (long) s * w, g + (long) (s + 1) * w), all()).assign(kSrc);
            vWin4.get(all(), all(), interval(g + (long) s * w, g + (long) (s + 1) * w), all()).assign(vSrc);
        }
        if (g > 0) {
            INDArray kgc = kg.get(interval(h0, h0 + chunk), interval(0, g), all());
            INDArray vgc = vg.get(interval(h0, h0 + chunk), interval(0, g), all());
            for (int cb = 0; cb < nb; cb++) {
                kWin4.get(all(), point(cb), interval(0, g), all()).assign(kgc);
                vWin4.get(all(), point(cb), interval(0, g), all()).assign(vgc);
            }
        }
        INDArray qc = q.get(interval(h0, h0 + chunk), all(), all()).reshape((long) chunk * nb, w, d);
        Nd4j.matmul(qc, kWin, probs, false, true, false);
        INDArray bias = rm.masks.windowBiasArray().get(point(r), all(), all(), all(), all())
                .reshape(1, (long) nb * w * cols);
        probs.reshape(chunk, (long) nb * w * cols).addiRowVector(bias);
        Nd4j.exec(new SoftMax(probs, probs, 2));
    }

    /** The window-probability dropout mask of heads {@code [h0, h0 + chunk)}: {@code [chunk nb, w, G + 3w]}. */
    private INDArray windowMask(Dropout drop, int h0) {
        long per = (long) nb * w * cols;
        return drop.window().array(((long) drop.row() * h + h0) * per, dt, (long) chunk * nb, w, cols);
    }

    /** The global-probability dropout mask of the used slots: {@code [h, gr, n]} (site {@code [B, h, G, n]}). */
    private INDArray globalMask(Dropout drop, int gr) {
        float[] m = new float[Math.toIntExact((long) h * gr * n)];
        for (int hh = 0; hh < h; hh++) {
            drop.global().fill(m, hh * gr * n, ((long) drop.row() * h + hh) * g * n, gr * n);
        }
        INDArray a = Nd4j.createFromArray(m).reshape('c', h, gr, n);
        if (dt == DataType.FLOAT) return a;
        INDArray cast = a.castTo(dt);
        free(a);
        return cast;
    }

    /** Scaled global queries {@code [h, gr, d]} of the global rows {@code hg [gr, E]}. */
    private INDArray globalQueries(INDArray hg, INDArray qgW, INDArray qgB) {
        int gr = (int) hg.size(0);
        INDArray qg = Nd4j.create(dt, gr, e);
        Nd4j.gemm(hg, qgW, qg, false, true, 1.0, 0.0);
        qg.addiRowVector(qgB).muli(scale);
        INDArray qgh = qg.reshape(gr, h, d).permute(1, 0, 2).dup('c');
        free(qg);
        return qgh;
    }

    /** Probabilities {@code [h, gr, n]} of the global rows against all keys. */
    private INDArray globalProbs(INDArray qgh, LongformerExecutor.RowMasks rm, int r) {
        int gr = (int) qgh.size(1);
        INDArray gs = Nd4j.matmul(qgh, kAll, false, true, false); // [h, gr, n]
        gs.reshape((long) h * gr, n).addiRowVector(rm.keyBias[r]);
        Nd4j.exec(new SoftMax(gs, gs, 2));
        return gs;
    }

    /** Backward of the window part for heads {@code [h0, h0 + chunk)}. */
    private void windowBackward(int h0, LongformerExecutor.RowMasks rm, int r, Dropout drop) {
        windowProbs(h0, rm, r);
        INDArray dOut = out.get(interval(h0, h0 + chunk), all(), all()).reshape((long) chunk * nb, w, d);
        INDArray mask = drop == null || drop.window() == null ? null : windowMask(drop, h0);
        INDArray dVWin;
        if (mask != null) {
            tmp.assign(probs).muli(mask);
            dVWin = Nd4j.matmul(tmp, dOut, true, false, false); // [chunk nb, cols, d]
        } else {
            dVWin = Nd4j.matmul(probs, dOut, true, false, false);
        }
        Nd4j.matmul(dOut, vWin, dProbs, false, true, false); // [chunk nb, w, cols]
        if (mask != null) {
            dProbs.muli(mask);
            free(mask);
        }
        softmaxBackward(probs, dProbs, (long) chunk * nb * w, cols);
        INDArray qc = q.get(interval(h0, h0 + chunk), all(), all()).reshape((long) chunk * nb, w, d);
        INDArray dqc = Nd4j.matmul(dProbs, kWin); // [chunk nb, w, d]
        dQ.get(interval(h0, h0 + chunk), all(), all()).assign(dqc.reshape(chunk, np, d));
        INDArray dKWin = Nd4j.matmul(dProbs, qc, true, false, false); // [chunk nb, cols, d]
        scatter(dKWin, dKPad, dKg, h0);
        scatter(dVWin, dVPad, dVg, h0);
        free(dqc, dKWin, dVWin);
    }

    /** Adds window-key gradients {@code [chunk nb, G + 3w, d]} to the padded keys and the global slots. */
    private void scatter(INDArray dWin, INDArray dPad, INDArray dSlots, int h0) {
        INDArray dWin4 = dWin.reshape(chunk, nb, cols, d);
        for (int s = 0; s < 3; s++) {
            INDArray part = dWin4.get(all(), all(), interval(g + (long) s * w, g + (long) (s + 1) * w), all())
                    .dup('c').reshape(chunk, np, d);
            dPad.get(interval(h0, h0 + chunk), interval((long) s * w, (long) s * w + np), all()).addi(part);
            free(part);
        }
        if (g > 0) {
            INDArray sum = dWin4.get(all(), all(), interval(0, g), all()).sum(1); // [chunk, g, d]
            dSlots.get(interval(h0, h0 + chunk), interval(0, g), all()).addi(sum);
            free(sum);
        }
    }

    /**
     * In place: {@code dp <- p (dp - rowsum(dp p))} over rows of length {@code len} (the softmax backward, with
     * {@code dp} the gradient of the probabilities, already masked by dropout); {@code p} is destroyed.
     */
    private static void softmaxBackward(INDArray p, INDArray dp, long rows, long len) {
        INDArray p2 = p.reshape(rows, len);
        INDArray dp2 = dp.reshape(rows, len);
        dp2.muli(p2);
        INDArray t = dp2.sum(true, 1); // [rows, 1] = sum_j dp_j p_j
        p2.muliColumnVector(t);
        dp2.subi(p2);
        free(t);
    }

    @Override
    public void close() {
        free(q, kPad, vPad, kAll, vAll, kg, vg, kWin, vWin, probs, out, dQ, dKPad, dVPad, dKg, dVg, dProbs, tmp);
    }
}
