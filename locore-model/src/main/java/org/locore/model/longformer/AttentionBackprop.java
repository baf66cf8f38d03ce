package org.locore.model.longformer;

import org.locore.model.rowops.StridedGemm;
import org.locore.model.rowops.Workers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.FloatBuffer;

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
 * and dO the output gradient: {@code dV = (P M)^T dO}, {@code dP = (dO V^T) M}, {@code dS = P (dP - t)},
 * {@code dQ = dS K}, {@code dK = dS^T Q}, where the softmax term {@code t = rowsum(dP P) = rowsum(dO O)} comes from
 * the forward's output O (kept by the caller), at {@code d} instead of {@code G + 3w} values per row; the global rows
 * (all keys, separate projections) the same way over all heads at once.
 *
 * <p>Every re-layout (projections to per-head rows, key/value windows, window gradients back to their tokens,
 * heads back to the hidden layout) is a row gather ({@code pullRows}) of {@code d}-float rows with precomputed
 * indices: ND4J's strided copies are an order of magnitude slower. A window-key gradient goes back to its token as
 * the sum of three gathers (the token's row in the previous, own and next block's window); the global-key columns
 * are first summed over blocks (a GEMM with a ones vector) into extra rows that the gathers pick for the global
 * tokens (which are no window keys). Index {@code zero} rows stand for padding.
 *
 * <p>Buffers are allocated for one geometry (n, w, G) and reused across layers and passes; {@link #close} releases
 * them. Not thread-safe.
 */
final class AttentionBackprop implements AutoCloseable {
    /** Default upper bound on one head chunk's probability buffer. */
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
    private final StageTimer timer;
    /** float32: the row kernels for the softmax and layouts; null: ND4J ops. */
    private final RowWork rw;

    /** {@code [5 H n + 1, d]}: per section (query, key, value, global key, global value) and head, n token rows; a zero row. */
    private final INDArray heads;
    /** scaled queries {@code [H np, d]}, zero rows past n. */
    private final INDArray q;
    /** per head chunk: window keys and values {@code [chunk nb (G + 3w), d]}, probabilities {@code [chunk nb, w, G + 3w]}. */
    private final INDArray kWin;
    private final INDArray vWin;
    private final INDArray probs;
    /** attention output {@code [H np, d]} (forward), output gradient (backward). */
    private final INDArray out;
    /** Gather indices: projections to heads, heads to projections, queries, heads to hidden, hidden to heads. */
    private final int[] headRows;
    private final int[] tokenRows;
    private final int[] queryRows;
    private final int[] mergeRows;
    private final int[] outRows;
    /** backward buffers. */
    private INDArray dHeads;
    private INDArray dLocal;
    private INDArray dQ;
    private INDArray dKWin;
    private INDArray dVWin;
    private INDArray dProbs;
    private INDArray tmp;
    private INDArray gathered;
    private INDArray onesBlocks;
    /** {@code [n H + 1, 1]} per token and head {@code rowsum(dO O)}, a zero; {@code [H np, 1]} the same per head row. */
    private INDArray rowDot;
    private INDArray softmaxTerm;

    /**
     * @param c  configuration (heads, head size)
     * @param n  sequence length
     * @param w  one-sided window
     * @param g  global slots G
     * @param dt floating type of the arrays
     * @param chunkBytes upper bound on a head chunk's probability buffer (at least one head per chunk)
     * @param timer receives the stage times
     * @param rw    the row kernels of the float32 path (ignored for other types)
     */
    AttentionBackprop(LongformerConfig c, int n, int w, int g, DataType dt, long chunkBytes, StageTimer timer,
                      RowWork rw) {
        this.timer = timer;
        this.rw = dt == DataType.FLOAT ? rw : null;
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
        int limit = (int) Math.max(1, Math.min(h, chunkBytes / perHead));
        int ch = limit;
        while (h % ch != 0) ch--;
        this.chunk = ch;
        heads = Nd4j.zeros(dt, 5L * h * n + 1, d);
        q = Nd4j.create(dt, (long) h * np, d);
        kWin = Nd4j.create(dt, (long) chunk * nb * cols, d);
        vWin = Nd4j.create(dt, (long) chunk * nb * cols, d);
        probs = Nd4j.create(dt, (long) chunk * nb, w, cols);
        out = Nd4j.create(dt, (long) h * np, d);
        int zero = 5 * h * n;
        // heads row (k h + hh) n + i  <-  projection row i, section k, head hh = flat row i 5h + k h + hh
        headRows = new int[5 * h * n];
        tokenRows = new int[5 * h * n];
        for (int k = 0; k < 5; k++) {
            for (int hh = 0; hh < h; hh++) {
                for (int i = 0; i < n; i++) {
                    headRows[(k * h + hh) * n + i] = i * 5 * h + k * h + hh;
                    tokenRows[i * 5 * h + k * h + hh] = (k * h + hh) * n + i;
                }
            }
        }
        queryRows = new int[h * np];
        outRows = new int[h * np];
        for (int hh = 0; hh < h; hh++) {
            for (int i = 0; i < np; i++) {
                queryRows[hh * np + i] = i < n ? hh * n + i : zero;
                outRows[hh * np + i] = i < n ? i * h + hh : n * h;
            }
        }
        mergeRows = new int[n * h];
        for (int i = 0; i < n; i++) {
            for (int hh = 0; hh < h; hh++) {
                mergeRows[i * h + hh] = hh * np + i;
            }
        }
    }

    /** float32: the global rows' probabilities (0) and their gradient (1), {@code [h, gr, n]}, kept. */
    private final INDArray[] globalBuffers = new INDArray[2];

    private INDArray globalBuffer(int i, int gr) {
        INDArray a = globalBuffers[i];
        if (a == null || a.size(1) != gr) {
            free(a);
            a = globalBuffers[i] = Nd4j.createUninitialized(dt, h, gr, n);
        }
        return a;
    }

    /** The global slots G of the geometry. */
    int globals() {
        return g;
    }

    private void allocateBackward() {
        if (dHeads != null) return;
        dHeads = Nd4j.create(dt, 5L * h * n, d);
        dLocal = Nd4j.zeros(dt, (long) n * h + 1, d);
        dQ = Nd4j.create(dt, (long) h * np, d);
        // window gradients, a zero row, then the per-slot sums over blocks
        long winRows = (long) chunk * nb * cols;
        dKWin = Nd4j.zeros(dt, winRows + 1 + (long) chunk * g, d);
        dVWin = Nd4j.zeros(dt, winRows + 1 + (long) chunk * g, d);
        dProbs = Nd4j.create(dt, (long) chunk * nb, w, cols);
        tmp = Nd4j.create(dt, (long) chunk * nb, w, cols);
        gathered = Nd4j.create(dt, (long) nb * chunk * Math.max(g, 1), d);
        onesBlocks = Nd4j.ones(dt, 1, nb);
        rowDot = Nd4j.zeros(dt, (long) n * h + 1, 1);
        softmaxTerm = Nd4j.create(dt, (long) h * np, 1);
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
        layout(proj);
        timer.lap("fwd attn: head layout");
        for (int h0 = 0; h0 < h; h0 += chunk) {
            windowProbs(h0, rm, r, globalIdx, "fwd attn: ", rw == null ? null : drop);
            INDArray mask = rw != null || drop == null || drop.window() == null ? null : windowMask(drop, h0);
            if (mask != null) {
                timer.lap("fwd attn: dropout masks");
                probs.muli(mask);
                free(mask);
                timer.lap("fwd attn: dropout");
            }
            if (rw != null) {
                // out block = probs block [w, cols] x vWin block [cols, d]
                batched(false, false, w, d, cols, probs, 0, (long) w * cols, vWin, 0, (long) cols * d,
                        out, (long) h0 * np * d, (long) w * d);
            } else {
                Nd4j.matmul(probs, vWin.reshape((long) chunk * nb, cols, d),
                        out.get(interval((long) h0 * np, (long) (h0 + chunk) * np), all())
                                .reshape((long) chunk * nb, w, d), false, false, false);
            }
            timer.lap("fwd attn: values (batched GEMM)");
        }
        Nd4j.pullRows(out, attn.reshape((long) n * h, d), 1, mergeRows);
        attn.muliColumnVector(rm.localRows[r]);
        timer.lap("fwd attn: head merge");
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
            INDArray gout = Nd4j.matmul(gp, section(4)); // [h, gr, d]
            INDArray flat = gout.permute(1, 0, 2).dup('c').reshape(gr, e);
            for (int s = 0; s < gr; s++) {
                attn.putRow(globalIdx[s], flat.getRow(s));
            }
            free(hg, qgh, gout, flat);
            if (rw == null) {
                free(gp);
            }
            timer.lap("fwd attn: global rows");
        }
    }

    /**
     * Backward of batch row r (after its forward with the same inputs and dropout).
     *
     * @param proj   {@code [n, 5E]} as for {@link #forward}
     * @param x      {@code [n, E]} as for {@link #forward}
     * @param attnAll  {@code [B n, E]} the attention output of the forward (all batch rows)
     * @param dAttnAll {@code [B n, E]} the gradient of the attention output (all batch rows)
     * @param dProj  {@code [n, 5E]} receives the gradients of the five projections (overwritten)
     * @param dx     {@code [n, E]} the global-query projection's input gradient is added to its rows
     * @param dQgW   accumulates the gradient of {@code query_global.weight}
     * @param dQgB   accumulates the gradient of {@code query_global.bias}
     */
    void backward(INDArray proj, INDArray x, LongformerExecutor.RowMasks rm, int r, INDArray qgW, INDArray qgB,
                  Dropout drop, INDArray attnAll, INDArray dAttnAll, INDArray dProj, INDArray dx, INDArray dQgW,
                  INDArray dQgB) {
        allocateBackward();
        int[] globalIdx = rm.globalIdx[r];
        int gr = globalIdx.length;
        INDArray attn = attnAll.get(interval((long) r * n, (long) (r + 1) * n), all());
        INDArray dAttn = dAttnAll.get(interval((long) r * n, (long) (r + 1) * n), all());
        layout(proj);
        if (rw != null) {
            outputGradientRows(attnAll, dAttnAll, rm.localRowsF[r], r);
        } else {
            // output gradient of the window part: local rows only, zero rows past n
            INDArray local = dLocal.get(interval(0, (long) n * h), all()).reshape(n, e);
            local.assign(dAttn).muliColumnVector(rm.localRows[r]);
            Nd4j.pullRows(dLocal, out, 1, outRows);
            // softmax term per head row: t = rowsum(dO O) over the head's d values (0 for padding rows)
            INDArray prod = local.mul(attn);
            rowDot.get(interval(0, (long) n * h), all()).assign(prod.reshape((long) n * h, d).sum(true, 1));
            free(prod);
            Nd4j.pullRows(rowDot, softmaxTerm, 1, outRows);
        }
        timer.lap("bwd attn: head layout");
        for (int h0 = 0; h0 < h; h0 += chunk) {
            windowBackward(h0, rm, r, globalIdx, drop);
        }
        // queries: rows < n of each head, scaled
        Nd4j.pullRows(dQ, sectionRows(dHeads, 0), 1, dqRows());
        sectionRows(dHeads, 0).muli(scale);
        timer.lap("bwd attn: window gradients to tokens");
        if (gr == 0) {
            sectionRows(dHeads, 3).assign(0);
            sectionRows(dHeads, 4).assign(0);
        } else {
            globalBackward(x, rm, r, globalIdx, qgW, qgB, drop, attn, dAttn, dx, dQgW, dQgB);
        }
        Nd4j.pullRows(dHeads, dProj.reshape((long) n * 5 * h, d), 1, tokenRows);
        timer.lap("bwd attn: head merge");
    }

    private int[] dqRowsCache;

    /** dHeads query-section row {@code hh n + i} <- dQ row {@code hh np + i}. */
    private int[] dqRows() {
        if (dqRowsCache == null) {
            dqRowsCache = new int[h * n];
            for (int hh = 0; hh < h; hh++) {
                for (int i = 0; i < n; i++) dqRowsCache[hh * n + i] = hh * np + i;
            }
        }
        return dqRowsCache;
    }

    /** Global rows: gout = P' vAll with P = softmax(qg kAll^T + key bias), P' = P M. */
    private void globalBackward(INDArray x, LongformerExecutor.RowMasks rm, int r, int[] globalIdx, INDArray qgW,
                                INDArray qgB, Dropout drop, INDArray attn, INDArray dAttn, INDArray dx, INDArray dQgW,
                                INDArray dQgB) {
        int gr = globalIdx.length;
        INDArray dRows = Nd4j.pullRows(dAttn, 1, globalIdx); // [gr, E]
        INDArray dgout = dRows.reshape(gr, h, d).permute(1, 0, 2).dup('c');
        // softmax term t = rowsum(dO O) of the global rows, [h gr, 1]
        INDArray oRows = Nd4j.pullRows(attn, 1, globalIdx);
        INDArray term = oRows.muli(dRows).reshape((long) gr * h, d).sum(true, 1).reshape(gr, h).transpose().dup('c')
                .reshape((long) h * gr, 1);
        free(dRows, oRows);
        INDArray hg = Nd4j.pullRows(x, 1, globalIdx);
        INDArray qgh = globalQueries(hg, qgW, qgB);
        INDArray gp = globalProbs(qgh, rm, r);
        INDArray mask = drop == null || drop.global() == null ? null : globalMask(drop, gr);
        INDArray dvAll = sectionRows(dHeads, 4).reshape(h, n, d);
        if (mask != null) {
            INDArray kept = gp.mul(mask);
            Nd4j.matmul(kept, dgout, dvAll, true, false, false);
            free(kept);
        } else {
            Nd4j.matmul(gp, dgout, dvAll, true, false, false);
        }
        INDArray dgs;
        if (rw != null) {
            dgs = globalBuffer(1, gr);
            Nd4j.matmul(dgout, section(4), dgs, false, true, false); // [h, gr, n]
        } else {
            dgs = Nd4j.matmul(dgout, section(4), false, true, false);
        }
        if (mask != null) {
            dgs.muli(mask);
            free(mask);
        }
        if (rw != null) {
            FloatBuffer pf = RowWork.floats(gp);
            FloatBuffer df = RowWork.floats(dgs);
            float[] t = term.toFloatVector();
            rw.rows(h * gr, (k, j0, j1) -> {
                float[] s1 = rw.row(k, 0);
                float[] s2 = rw.row(k, 1);
                for (int j = j0; j < j1; j++) {
                    pf.get(j * n, s1, 0, n);
                    df.get(j * n, s2, 0, n);
                    rw.ops.softmaxBackward(s1, s2, 0, n, t[j]);
                    df.put(j * n, s2, 0, n);
                }
            });
        } else {
            softmaxBackward(gp, dgs, term, (long) h * gr, n);
        }
        free(term);
        INDArray dqg = Nd4j.matmul(dgs, section(3)); // [h, gr, d]
        Nd4j.matmul(dgs, qgh, sectionRows(dHeads, 3).reshape(h, n, d), true, false, false);
        INDArray dqgRaw = dqg.permute(1, 0, 2).dup('c').reshape(gr, e).muli(scale);
        Nd4j.gemm(dqgRaw, hg, dQgW, true, false, 1.0, 1.0);
        Nd4j.gemm(Nd4j.ones(dt, gr, 1), dqgRaw, dQgB.reshape(1, e), true, false, 1.0, 1.0);
        INDArray dhg = Nd4j.create(dt, gr, e);
        Nd4j.gemm(dqgRaw, qgW, dhg, false, false, 1.0, 0.0);
        for (int s = 0; s < gr; s++) {
            dx.getRow(globalIdx[s]).addi(dhg.getRow(s));
        }
        free(dgout, hg, qgh, dqg, dqgRaw, dhg);
        if (rw == null) {
            free(gp, dgs);
        }
        timer.lap("bwd attn: global rows");
    }

    /** Rows of section k (0 query ... 4 global value) of a {@code [5 H n (+1), d]} array: {@code [H n, d]}. */
    private INDArray sectionRows(INDArray a, int k) {
        return a.get(interval((long) k * h * n, (long) (k + 1) * h * n), all());
    }

    /** Section k of {@link #heads} as {@code [H, n, d]}. */
    private INDArray section(int k) {
        return sectionRows(heads, k).reshape(h, n, d);
    }

    /** The row's projections in per-head layouts; the scaled, block-padded queries. */
    private void layout(INDArray proj) {
        Nd4j.pullRows(proj.reshape((long) n * 5 * h, d), heads.get(interval(0, 5L * h * n), all()), 1, headRows);
        Nd4j.pullRows(heads, q, 1, queryRows);
        q.muli(scale);
    }

    /** Gather indices of the window keys (section 1) or values (section 2) of heads {@code [h0, h0 + chunk)}. */
    private int[] windowRows(int section, int h0, int[] globalIdx) {
        int zero = 5 * h * n;
        int[] idx = new int[chunk * nb * cols];
        int at = 0;
        for (int hc = 0; hc < chunk; hc++) {
            int base = (section * h + h0 + hc) * n;
            for (int cb = 0; cb < nb; cb++) {
                for (int col = 0; col < cols; col++) {
                    int row;
                    if (col < g) {
                        row = col < globalIdx.length ? base + globalIdx[col] : zero;
                    } else {
                        int t = cb * w + (col - g) - w;
                        row = t >= 0 && t < n ? base + t : zero;
                    }
                    idx[at++] = row;
                }
            }
        }
        return idx;
    }

    /**
     * Window keys/values of heads {@code [h0, h0 + chunk)} and their probabilities (softmax of scores + bias);
     * float32 with {@code maskWith}: times that dropout mask.
     */
    private void windowProbs(int h0, LongformerExecutor.RowMasks rm, int r, int[] globalIdx, String stage,
                             Dropout maskWith) {
        Nd4j.pullRows(heads, kWin, 1, windowRows(1, h0, globalIdx));
        Nd4j.pullRows(heads, vWin, 1, windowRows(2, h0, globalIdx));
        timer.lap(stage + "key/value windows");
        if (rw != null) {
            // probs block [w, cols] = q block [w, d] x kWin block [cols, d]^T
            batched(false, true, w, cols, d, q, (long) h0 * np * d, (long) w * d, kWin, 0, (long) cols * d,
                    probs, 0, (long) w * cols);
        } else {
            INDArray qc = q.get(interval((long) h0 * np, (long) (h0 + chunk) * np), all())
                    .reshape((long) chunk * nb, w, d);
            Nd4j.matmul(qc, kWin.reshape((long) chunk * nb, cols, d), probs, false, true, false);
        }
        timer.lap(stage + "scores (batched GEMM)");
        if (rw != null) {
            softmaxRows(h0, rm, r, maskWith);
            timer.lap(stage + "bias + softmax");
            return;
        }
        INDArray bias = rm.masks.windowBiasArray().get(point(r), all(), all(), all(), all())
                .reshape(1, (long) nb * w * cols);
        probs.reshape(chunk, (long) nb * w * cols).addiRowVector(bias);
        Nd4j.exec(new SoftMax(probs, probs, 2));
        timer.lap(stage + "bias + softmax");
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
        if (rw != null) {
            INDArray gs = globalBuffer(0, gr);
            Nd4j.matmul(qgh, section(3), gs, false, true, false); // [h, gr, n]
            FloatBuffer gf = RowWork.floats(gs);
            float[] keyBias = rm.keyBiasF[r];
            rw.rows(h * gr, (k, j0, j1) -> {
                float[] s1 = rw.row(k, 0);
                for (int j = j0; j < j1; j++) {
                    gf.get(j * n, s1, 0, n);
                    rw.ops.addBias(s1, 0, s1, 0, n, keyBias, 0);
                    rw.ops.scale(s1, 0, n, 1f / rw.ops.expShifted(s1, 0, n));
                    gf.put(j * n, s1, 0, n);
                }
            });
            return gs;
        }
        INDArray gs = Nd4j.matmul(qgh, section(3), false, true, false); // [h, gr, n]
        gs.reshape((long) h * gr, n).addiRowVector(rm.keyBias[r]);
        Nd4j.exec(new SoftMax(gs, gs, 2));
        return gs;
    }

    /** Backward of the window part for heads {@code [h0, h0 + chunk)}. */
    private void windowBackward(int h0, LongformerExecutor.RowMasks rm, int r, int[] globalIdx, Dropout drop) {
        windowProbs(h0, rm, r, globalIdx, "bwd attn: recompute ", null);
        long winRows = (long) chunk * nb * cols;
        INDArray dOut = out.get(interval((long) h0 * np, (long) (h0 + chunk) * np), all()).reshape((long) chunk * nb, w, d);
        INDArray dVw = dVWin.get(interval(0, winRows), all()).reshape((long) chunk * nb, cols, d);
        INDArray dKw = dKWin.get(interval(0, winRows), all()).reshape((long) chunk * nb, cols, d);
        boolean dropped = drop != null && drop.window() != null;
        INDArray mask = rw != null || !dropped ? null : windowMask(drop, h0);
        long outOff = (long) h0 * np * d;
        if (rw != null) {
            INDArray p = probs;
            if (dropped) {
                maskedProbsRows(h0, drop);
                timer.lap("bwd attn: dropout");
                p = tmp;
            }
            // dVw block [cols, d] = p block [w, cols]^T x dOut block [w, d]
            batched(true, false, cols, d, w, p, 0, (long) w * cols, out, outOff, (long) w * d,
                    dVWin, 0, (long) cols * d);
        } else if (mask != null) {
            timer.lap("bwd attn: dropout masks");
            probs.mul(mask, tmp);
            timer.lap("bwd attn: dropout");
            Nd4j.matmul(tmp, dOut, dVw, true, false, false);
        } else {
            Nd4j.matmul(probs, dOut, dVw, true, false, false);
        }
        timer.lap("bwd attn: value gradient (batched GEMM)");
        if (rw != null) {
            batched(false, true, w, cols, d, out, outOff, (long) w * d, vWin, 0, (long) cols * d,
                    dProbs, 0, (long) w * cols);
        } else {
            Nd4j.matmul(dOut, vWin.reshape((long) chunk * nb, cols, d), dProbs, false, true, false); // [chunk nb, w, cols]
        }
        timer.lap("bwd attn: probability gradient (batched GEMM)");
        if (mask != null) {
            dProbs.muli(mask);
            free(mask);
            timer.lap("bwd attn: dropout");
        }
        if (rw != null) {
            softmaxBackwardRows(h0, dropped ? drop : null);
        } else {
            softmaxBackward(probs, dProbs, softmaxTerm.get(interval((long) h0 * np, (long) (h0 + chunk) * np), all()),
                    (long) chunk * nb * w, cols);
        }
        timer.lap("bwd attn: softmax backward");
        if (rw != null) {
            // dQ block [w, d] = dProbs block [w, cols] x kWin block [cols, d]; dKw block = dProbs^T x q block
            batched(false, false, w, d, cols, dProbs, 0, (long) w * cols, kWin, 0, (long) cols * d,
                    dQ, outOff, (long) w * d);
            timer.lap("bwd attn: query gradient (batched GEMM)");
            batched(true, false, cols, d, w, dProbs, 0, (long) w * cols, q, outOff, (long) w * d,
                    dKWin, 0, (long) cols * d);
        } else {
            INDArray qc = q.get(interval((long) h0 * np, (long) (h0 + chunk) * np), all())
                    .reshape((long) chunk * nb, w, d);
            Nd4j.matmul(dProbs, kWin.reshape((long) chunk * nb, cols, d),
                    dQ.get(interval((long) h0 * np, (long) (h0 + chunk) * np), all()).reshape((long) chunk * nb, w, d),
                    false, false, false);
            timer.lap("bwd attn: query gradient (batched GEMM)");
            Nd4j.matmul(dProbs, qc, dKw, true, false, false); // [chunk nb, cols, d]
        }
        timer.lap("bwd attn: key gradient (batched GEMM)");
        toTokens(dKWin, 1, h0, globalIdx);
        toTokens(dVWin, 2, h0, globalIdx);
        timer.lap("bwd attn: window gradients to tokens");
    }

    /**
     * float32: the {@code chunk nb} products of a head chunk's blocks, {@code C_i = op(A_i) op(B_i)} with block i of
     * each operand at {@code off + i stride} in its (whole, row-major) array, as single-threaded GEMMs read and
     * written in place ({@link StridedGemm}) in parallel jobs on the workers; {@code op(A_i)} is {@code [m, k]},
     * {@code op(B_i)} {@code [k, n]}, {@code C_i} {@code [m, n]}, leading dimensions the stored row lengths.
     */
    private void batched(boolean ta, boolean tb, int m, int nn, int k, INDArray a, long aOff, long aStride,
                         INDArray b, long bOff, long bStride, INDArray c, long cOff, long cStride) {
        int lda = ta ? m : k;
        int ldb = tb ? k : nn;
        Workers.jobs(rw.threads, chunk * nb, (kk, i) -> StridedGemm.sgemm(ta, tb, m, nn, k, 1f,
                a, aOff + i * aStride, lda, b, bOff + i * bStride, ldb, 0f, c, cOff + i * cStride, nn));
    }

    /**
     * Section {@code section} rows of heads {@code [h0, h0 + chunk)} of {@link #dHeads} from window gradients
     * {@code [chunk nb (G + 3w) + 1 + chunk G, d]} (window rows, a zero row, slot sums): each token's rows in the
     * previous, own and next block's window summed, the global tokens' slot columns summed over blocks.
     */
    private void toTokens(INDArray dWin, int section, int h0, int[] globalIdx) {
        int gr = globalIdx.length;
        long winRows = (long) chunk * nb * cols;
        int zero = (int) winRows;
        int slots = zero + 1;
        if (gr > 0) {
            // slot sums over blocks: gather [nb, chunk gr d] (block-major), ones[1, nb] x that
            int[] idx = new int[nb * chunk * gr];
            int at = 0;
            for (int cb = 0; cb < nb; cb++) {
                for (int hc = 0; hc < chunk; hc++) {
                    for (int s = 0; s < gr; s++) {
                        idx[at++] = (hc * nb + cb) * cols + s;
                    }
                }
            }
            INDArray gath = gathered.get(interval(0, (long) nb * chunk * gr), all());
            Nd4j.pullRows(dWin, gath, 1, idx);
            Nd4j.gemm(onesBlocks, gath.reshape(nb, (long) chunk * gr * d),
                    dWin.get(interval(slots, slots + (long) chunk * gr), all()).reshape(1, (long) chunk * gr * d),
                    false, false, 1.0, 0.0);
        }
        boolean[] isGlobal = new boolean[n];
        int[] slotOf = new int[n];
        for (int s = 0; s < gr; s++) {
            isGlobal[globalIdx[s]] = true;
            slotOf[globalIdx[s]] = s;
        }
        if (rw != null) {
            FloatBuffer wf = RowWork.floats(dWin);
            FloatBuffer hf = RowWork.floats(dHeads);
            int tBase = (section * h + h0) * n;
            rw.rows(chunk * n, (k, j0, j1) -> {
                float[] s1 = rw.row(k, 0);
                float[] s2 = rw.row(k, 1);
                for (int j = j0; j < j1; j++) {
                    int hc = j / n;
                    int t = j % n;
                    if (isGlobal[t]) {
                        wf.get((slots + hc * gr + slotOf[t]) * d, s1, 0, d);
                    } else {
                        java.util.Arrays.fill(s1, 0, d, 0f);
                        for (int shift = 0; shift < 3; shift++) {
                            int cb = (t + w) / w - shift;
                            if (cb >= 0 && cb < nb) {
                                wf.get(((hc * nb + cb) * cols + g + shift * w + (t + w) % w) * d, s2, 0, d);
                                rw.ops.addBias(s1, 0, s1, 0, d, s2, 0);
                            }
                        }
                    }
                    hf.put((tBase + j) * d, s1, 0, d);
                }
            });
            return;
        }
        INDArray target = dHeads.get(interval((long) (section * h + h0) * n, (long) (section * h + h0 + chunk) * n), all());
        INDArray part = null;
        for (int shift = 0; shift < 3; shift++) {
            int[] idx = new int[chunk * n];
            for (int hc = 0; hc < chunk; hc++) {
                for (int t = 0; t < n; t++) {
                    int row;
                    if (isGlobal[t]) {
                        row = shift == 1 ? slots + hc * gr + slotOf[t] : zero;
                    } else {
                        // token t sits in block cb's window at column g + shift w + (t + w - (cb + shift) w) ...
                        int cb = (t + w) / w - shift;
                        row = cb >= 0 && cb < nb ? (hc * nb + cb) * cols + g + shift * w + (t + w) % w : zero;
                    }
                    idx[hc * n + t] = row;
                }
            }
            if (shift == 0) {
                Nd4j.pullRows(dWin, target, 1, idx);
            } else {
                if (part == null) part = Nd4j.create(dt, (long) chunk * n, d);
                Nd4j.pullRows(dWin, part, 1, idx);
                target.addi(part);
            }
        }
        free(part);
    }

    /**
     * In place: {@code dp <- p (dp - t)} over rows of length {@code len} (the softmax backward, with {@code dp} the
     * gradient of the probabilities, already masked by dropout, and {@code t = rowsum(dp p)} per row).
     */
    private static void softmaxBackward(INDArray p, INDArray dp, INDArray t, long rows, long len) {
        INDArray dp2 = dp.reshape(rows, len);
        dp2.subiColumnVector(t);
        dp2.muli(p.reshape(rows, len));
    }

    /**
     * float32: the probabilities of heads {@code [h0, h0 + chunk)} from their scores in {@link #probs}, row by row:
     * plus the window bias, softmax, times the dropout mask of {@code maskWith} when given.
     */
    private void softmaxRows(int h0, LongformerExecutor.RowMasks rm, int r, Dropout maskWith) {
        FloatBuffer pf = RowWork.floats(probs);
        FloatBuffer bf = RowWork.floats(rm.masks.windowBiasArray());
        int perHead = nb * w;
        long biasBase = (long) r * perHead * cols;
        DropoutBits bits = maskWith == null ? null : maskWith.window();
        long maskBase = bits == null ? 0 : ((long) maskWith.row() * h + h0) * perHead * cols;
        rw.rows(chunk * perHead, (k, j0, j1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            for (int j = j0; j < j1; j++) {
                pf.get(j * cols, s1, 0, cols);
                bf.get((int) (biasBase + (long) (j % perHead) * cols), s2, 0, cols);
                rw.ops.addBias(s1, 0, s1, 0, cols, s2, 0);
                float inv = 1f / rw.ops.expShifted(s1, 0, cols);
                rw.ops.scale(s1, 0, cols, inv);
                if (bits != null) {
                    bits.fill(s2, 0, maskBase + (long) j * cols, cols);
                    rw.ops.multiply(s1, 0, s2, 0, cols);
                }
                pf.put(j * cols, s1, 0, cols);
            }
        });
    }

    /** float32: {@code tmp = probs * mask} of heads {@code [h0, h0 + chunk)}, row by row. */
    private void maskedProbsRows(int h0, Dropout drop) {
        FloatBuffer pf = RowWork.floats(probs);
        FloatBuffer tf = RowWork.floats(tmp);
        long maskBase = ((long) drop.row() * h + h0) * nb * w * cols;
        DropoutBits bits = drop.window();
        rw.rows(chunk * np, (k, j0, j1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            for (int j = j0; j < j1; j++) {
                pf.get(j * cols, s1, 0, cols);
                bits.fill(s2, 0, maskBase + (long) j * cols, cols);
                rw.ops.multiply(s1, 0, s2, 0, cols);
                tf.put(j * cols, s1, 0, cols);
            }
        });
    }

    /**
     * float32: {@code dProbs = probs (dProbs M - t)} of heads {@code [h0, h0 + chunk)}, row by row, with M the
     * dropout mask (when {@code drop} is given) and t the row's {@link #softmaxTerm}.
     */
    private void softmaxBackwardRows(int h0, Dropout drop) {
        FloatBuffer pf = RowWork.floats(probs);
        FloatBuffer df = RowWork.floats(dProbs);
        FloatBuffer tf = RowWork.floats(softmaxTerm);
        long maskBase = drop == null ? 0 : ((long) drop.row() * h + h0) * nb * w * cols;
        DropoutBits bits = drop == null ? null : drop.window();
        int t0 = h0 * np;
        rw.rows(chunk * np, (k, j0, j1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            float[] s3 = rw.row(k, 2);
            for (int j = j0; j < j1; j++) {
                pf.get(j * cols, s1, 0, cols);
                df.get(j * cols, s2, 0, cols);
                if (bits != null) {
                    bits.fill(s3, 0, maskBase + (long) j * cols, cols);
                    rw.ops.multiply(s2, 0, s3, 0, cols);
                }
                rw.ops.softmaxBackward(s1, s2, 0, cols, tf.get(t0 + j));
                df.put(j * cols, s2, 0, cols);
            }
        });
    }

    /**
     * float32: the window part's output gradient per head row ({@link #out}: {@code dAttn} on local rows, 0 on
     * global rows and past n) and its softmax term {@code t = rowsum(dO O)} ({@link #softmaxTerm}), token by token.
     */
    private void outputGradientRows(INDArray attnAll, INDArray dAttnAll, float[] local, int r) {
        FloatBuffer af = RowWork.floats(attnAll);
        FloatBuffer df = RowWork.floats(dAttnAll);
        FloatBuffer of = RowWork.floats(out);
        FloatBuffer tf = RowWork.floats(softmaxTerm);
        int base = r * n * e;
        rw.rows(np, (k, i0, i1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            for (int i = i0; i < i1; i++) {
                if (i < n) {
                    df.get(base + i * e, s1, 0, e);
                    rw.ops.scale(s1, 0, e, local[i]);
                    af.get(base + i * e, s2, 0, e);
                } else {
                    java.util.Arrays.fill(s1, 0, e, 0f);
                    java.util.Arrays.fill(s2, 0, e, 0f);
                }
                for (int hh = 0; hh < h; hh++) {
                    of.put((hh * np + i) * d, s1, hh * d, d);
                    tf.put(hh * np + i, rw.ops.dot(s1, hh * d, s2, hh * d, d));
                }
            }
        });
    }

    @Override
    public void close() {
        free(globalBuffers);
        free(heads, q, kWin, vWin, probs, out, dHeads, dLocal, dQ, dKWin, dVWin, dProbs, tmp, gathered, onesBlocks,
                rowDot, softmaxTerm);
    }
}
