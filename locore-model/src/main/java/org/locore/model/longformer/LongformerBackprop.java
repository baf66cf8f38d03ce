package org.locore.model.longformer;

import org.locore.model.rowops.RowOps;
import org.locore.model.rowops.Workers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.floating.RSqrt;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Exp;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static org.locore.model.longformer.LongformerExecutor.free;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

/**
 * The training pass of {@link LongformerEncoder}'s computation without SameDiff: a forward pass with dropout
 * (the graph's masks: {@link DropoutBits} drawn site by site in the graph's order from the same generator), then a
 * hand-written backward pass, layer by layer in reverse, that accumulates the gradient of every parameter into
 * caller-provided arrays and returns the gradient of the input embeddings. Gives the graph's gradients (tested in
 * float64 against {@code calculateGradients} of the graph).
 *
 * <p>Memory (activation checkpointing): the forward keeps, per layer, its input, its attention output (before the
 * output projection) and the two pre-LayerNorm sums ({@code 4 B n E} values), plus, with
 * {@link Checkpointing#FAST}, the fused projections and the FFN pre-activations ({@code B n (5E + FFN)} values); the
 * backward recomputes from these what it needs (the attention probabilities always, by
 * {@link AttentionBackprop}; the projections and the FFN pre-activations with {@link Checkpointing#LEAN}). Nothing of
 * size {@code n x window} outlives its head chunk, and no {@code n x n} array is ever formed. Dropout decisions are
 * kept as bits. Large temporaries are released at once.
 *
 * <p>float32 (the models' type): the element-wise steps (bias, dropout, residual, LayerNorm and its backward,
 * exact GELU and its derivative, the attention softmax and its backward, head layouts) run as the SIMD row kernels
 * of {@link RowOps} over rows split across {@link Workers#rows}, and the tape and working arrays are kept between
 * passes of the same geometry ({@link #release} frees them): re-allocating gigabytes per pass costs a page fault
 * per 4 KiB. Other types (the float64 tests) run the same formulas as ND4J ops.
 *
 * <p>Per layer (post-norm): {@code P = x W5^T + b5} (query, key, value, global key, global value in one GEMM),
 * attention, {@code z1 = drop(attn Wo^T + bo) + x}, {@code y1 = LN(z1)}, {@code u = y1 Wi^T + bi},
 * {@code z2 = drop(gelu(u) Wf^T + bf) + y1}, output {@code LN(z2)}; exact GELU, whose derivative is
 * {@code Phi(u) + u phi(u)}. Embeddings: {@code drop(LN(inputs + position + tokenType[0]))}.
 *
 * <p>Use: {@link #forward}, then {@link #backward} once. Not thread-safe.
 */
public final class LongformerBackprop {
    /** What the forward keeps for the backward. */
    public enum Checkpointing {
        /** Per layer: input, attention output, pre-LayerNorm sums; the backward recomputes the projections and FFN. */
        LEAN,
        /** Also the fused projections and the FFN pre-activations: no recomputed GEMM in the backward. */
        FAST
    }

    private static final String[] FIVE = {"query", "key", "value", "key_global", "value_global"};
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2 * Math.PI);

    private final LongformerConfig c;
    private final int layers;
    private final String prefix;
    private final Function<String, INDArray> param;
    private final Checkpointing checkpointing;
    private final StageTimer timer = new StageTimer();

    // state of the last forward
    private int b;
    private int n;
    private DataType dt;
    private INDArray embedSum;
    private DropoutBits embedDrop;
    private final List<LayerTape> tapes = new ArrayList<>();
    private final Map<Integer, LongformerExecutor.RowMasks> masksByWindow = new HashMap<>();
    private final Map<Integer, AttentionBackprop> attentionByWindow = new HashMap<>();
    private INDArray ones;
    private long chunkBytes = AttentionBackprop.CHUNK_BYTES;
    /** float32 path: row kernels and reused arrays (one set per pass geometry, released with the tape). */
    private final RowOps ops;
    private RowWork work;
    private final Map<String, INDArray> scratch = new HashMap<>();

    /** What one layer's forward leaves for its backward. */
    private static final class LayerTape {
        INDArray x;
        INDArray proj;
        INDArray attn;
        INDArray z1;
        INDArray u;
        INDArray z2;
        /** float32: the layer output (the next layer's x), kept across passes; null for the last layer. */
        INDArray out;
        DropoutBits windowDrop;
        DropoutBits globalDrop;
        DropoutBits attnOutDrop;
        DropoutBits outDrop;

        void release() {
            free(x, proj, attn, z1, u, z2, out);
            x = proj = attn = z1 = u = z2 = out = null;
        }
    }

    /**
     * @param c             configuration (dropout probabilities included)
     * @param layers        layers to run (the first ones)
     * @param prefix        parameter-name prefix (as for {@link LongformerEncoder#build})
     * @param param         the parameter array by full name (PyTorch layout; all of one floating type)
     * @param checkpointing what the forward keeps
     */
    public LongformerBackprop(LongformerConfig c, int layers, String prefix, Function<String, INDArray> param,
                              Checkpointing checkpointing) {
        this(c, layers, prefix, param, checkpointing, RowOps.best());
    }

    /** As the public constructor with the given row kernels of the float32 path (tests compare SIMD and scalar). */
    LongformerBackprop(LongformerConfig c, int layers, String prefix, Function<String, INDArray> param,
                       Checkpointing checkpointing, RowOps ops) {
        this.ops = ops;
        this.c = c;
        this.layers = layers;
        this.prefix = prefix;
        this.param = param;
        this.checkpointing = checkpointing;
    }

    /**
     * The values the forward keeps for the backward, in bytes, for a batch of {@code batch} sequences of
     * {@code length} tokens and 4-byte floats (dropout bits not counted).
     */
    public static long tapeBytes(LongformerConfig c, int layers, int batch, int length, Checkpointing mode) {
        long rows = (long) batch * length;
        long perLayer = 4L * c.hiddenSize() + (mode == Checkpointing.FAST ? 5L * c.hiddenSize() + c.intermediateSize() : 0);
        return 4L * rows * perLayer * layers;
    }

    /**
     * Wall-clock seconds per stage (GEMMs, attention parts, LayerNorms, GELU, dropout masks, ...) summed over all
     * passes of this instance: a profile.
     */
    public Map<String, Double> stageSeconds() {
        return timer.seconds();
    }

    /** Sets the bound on the attention's head-chunk buffers (tests: force one head per chunk). */
    LongformerBackprop withChunkBytes(long bytes) {
        this.chunkBytes = bytes;
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
     * The forward pass.
     *
     * @param inputsEmbeds  {@code [B, n, E]}
     * @param attentionMask {@code [B][n]}, 1 = attend
     * @param globalMask    {@code [B][n]}, 1 = global
     * @param globalSlots   global slots G (as for {@link BandedAttention.Masks#of}), or -1
     * @param dropoutRng    generator of the dropout masks (drawn as {@link DropoutMasks#feed} draws the graph's),
     *                      or null for no dropout
     * @return the last hidden state {@code [B, n, E]} (a new array)
     */
    public INDArray forward(INDArray inputsEmbeds, int[][] attentionMask, int[][] globalMask, int globalSlots,
                            Random dropoutRng) {
        timer.reset();
        int newB = (int) inputsEmbeds.size(0);
        int newN = (int) inputsEmbeds.size(1);
        DataType newDt = p("embeddings.LayerNorm.weight").dataType();
        if (newDt != DataType.FLOAT || maskKey == null || newB != b || newN != n || newDt != dt) {
            releaseTape();
        } else {
            endPass();
            if (!sameMasks(attentionMask, globalMask, globalSlots)) {
                masksByWindow.clear();
            }
        }
        maskKey = new Object[]{deepCopy(attentionMask), deepCopy(globalMask), globalSlots};
        b = newB;
        n = newN;
        dt = newDt;
        int e = c.hiddenSize();
        int bn = b * n;
        if (c.firstPosition() + n > c.maxPositions()) {
            throw new IllegalArgumentException("sequence of " + n + " tokens needs positions up to "
                    + (c.firstPosition() + n - 1) + " but the table has " + c.maxPositions() + " rows");
        }
        double hp = dropoutRng == null ? 0 : c.hiddenDropout();
        double ap = dropoutRng == null ? 0 : c.attentionDropout();
        // embeddings
        INDArray x;
        if (dt == DataType.FLOAT) {
            embedDrop = hp > 0 ? DropoutBits.draw(dropoutRng, (long) bn * e, hp) : null;
            embedSum = buf("embedSum", bn, e);
            embedSum.assign(inputsEmbeds.reshape(bn, e));
            x = buf("x0", bn, e);
            embeddingRows(embedSum, x, embedDrop);
            timer.lap("fwd: embeddings");
        } else {
            x = embeddings(inputsEmbeds, hp, dropoutRng);
        }
        forwardLayers(x, attentionMask, globalMask, globalSlots, dropoutRng, hp, ap);
        return layers == 0 ? x.dup().reshape(b, n, e) : lastOut.reshape(b, n, e);
    }

    private INDArray lastOut;

    /** float64: the embeddings {@code drop(LN(inputs + position + tokenType[0]))} (keeps the sums). */
    private INDArray embeddings(INDArray inputsEmbeds, double hp, Random dropoutRng) {
        int e = c.hiddenSize();
        int bn = b * n;
        embedSum = inputsEmbeds.castTo(dt).dup('c').reshape(bn, e);
        INDArray pos = p("embeddings.position_embeddings.weight")
                .get(interval(c.firstPosition(), c.firstPosition() + n), all()).dup('c');
        embedSum.reshape(b, (long) n * e).addiRowVector(pos.reshape(1, (long) n * e));
        free(pos);
        embedSum.addiRowVector(p("embeddings.token_type_embeddings.weight").getRow(0).dup());
        INDArray x = layerNorm(embedSum, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"));
        embedDrop = hp > 0 ? DropoutBits.draw(dropoutRng, (long) bn * e, hp) : null;
        applyDropout(x, embedDrop, 0);
        timer.lap("fwd: embeddings");
        return x;
    }

    /** The layers' forward from the embeddings' output x; the last output in {@link #lastOut}. */
    private void forwardLayers(INDArray x, int[][] attentionMask, int[][] globalMask, int globalSlots,
                               Random dropoutRng, double hp, double ap) {
        int e = c.hiddenSize();
        int bn = b * n;
        for (int l = 0; l < layers; l++) {
            int w = c.oneSidedWindow(l);
            LongformerExecutor.RowMasks rm = masksByWindow.computeIfAbsent(w, ww -> new LongformerExecutor.RowMasks(
                    BandedAttention.Masks.of(attentionMask, globalMask, ww, globalSlots, dt), attentionMask, globalMask));
            int g = rm.masks.globals();
            AttentionBackprop att = attentionByWindow.get(w);
            if (att != null && att.globals() != g) {
                att.close();
                att = null;
            }
            if (att == null) {
                att = new AttentionBackprop(c, n, w, g, dt, chunkBytes, timer, dt == DataType.FLOAT ? work() : null);
                attentionByWindow.put(w, att);
            }
            boolean reuse = dt == DataType.FLOAT && l < tapes.size();
            LayerTape t = reuse ? tapes.get(l) : new LayerTape();
            t.x = x;
            String s = "encoder.layer." + l + ".attention.self.";
            String o = "encoder.layer." + l + ".";
            timer.lap("fwd: masks");
            if (dt == DataType.FLOAT) {
                x = forwardLayerFloat(t, att, rm, s, o, hp, ap, g, w, dropoutRng, l == layers - 1);
                if (!reuse) tapes.add(t);
                continue;
            }
            INDArray proj = projections(x, s);
            timer.lap("fwd: projections (GEMM)");
            int nb = (n + w - 1) / w;
            t.windowDrop = ap > 0 ? DropoutBits.draw(dropoutRng, (long) b * c.numHeads() * nb * w * (g + 3L * w), ap) : null;
            t.globalDrop = ap > 0 && g > 0 ? DropoutBits.draw(dropoutRng, (long) b * c.numHeads() * g * n, ap) : null;
            timer.lap("dropout draws");
            t.attn = Nd4j.create(dt, bn, e);
            for (int r = 0; r < b; r++) {
                att.forward(rows(proj, r), rows(x, r), rm, r, p(s + "query_global.weight"), p(s + "query_global.bias"),
                        ap > 0 ? new AttentionBackprop.Dropout(t.windowDrop, t.globalDrop, r) : null, rows(t.attn, r));
            }
            if (checkpointing == Checkpointing.FAST) {
                t.proj = proj;
            } else {
                free(proj);
            }
            INDArray a = linear(t.attn, p(o + "attention.output.dense.weight"), p(o + "attention.output.dense.bias"));
            timer.lap("fwd: output projection (GEMM)");
            t.attnOutDrop = hp > 0 ? DropoutBits.draw(dropoutRng, (long) bn * e, hp) : null;
            applyDropout(a, t.attnOutDrop, 0);
            t.z1 = a.addi(x);
            INDArray y1 = layerNorm(t.z1, p(o + "attention.output.LayerNorm.weight"),
                    p(o + "attention.output.LayerNorm.bias"));
            timer.lap("fwd: dropout, residual, LayerNorm");
            INDArray u = linear(y1, p(o + "intermediate.dense.weight"), p(o + "intermediate.dense.bias"));
            timer.lap("fwd: FFN in (GEMM)");
            INDArray f = u.dup('c');
            geluInPlace(f);
            timer.lap("fwd: GELU");
            if (checkpointing == Checkpointing.FAST) {
                t.u = u;
            } else {
                free(u);
            }
            INDArray f2 = linear(f, p(o + "output.dense.weight"), p(o + "output.dense.bias"));
            free(f);
            timer.lap("fwd: FFN out (GEMM)");
            t.outDrop = hp > 0 ? DropoutBits.draw(dropoutRng, (long) bn * e, hp) : null;
            applyDropout(f2, t.outDrop, 0);
            t.z2 = f2.addi(y1);
            free(y1);
            x = layerNorm(t.z2, p(o + "output.LayerNorm.weight"), p(o + "output.LayerNorm.bias"));
            tapes.add(t);
            timer.lap("fwd: dropout, residual, LayerNorm");
        }
        lastOut = x;
    }

    /**
     * float32 embeddings row by row: {@code sum = inputs + position + tokenType[0]} in place (kept for the
     * backward), {@code x = drop(LN(sum))}.
     */
    private void embeddingRows(INDArray sum, INDArray x, DropoutBits drop) {
        int e = c.hiddenSize();
        float eps = (float) c.layerNormEps();
        INDArray posTable = p("embeddings.position_embeddings.weight");
        FloatBuffer pf = RowWork.floats(posTable);
        float[] tokenType = p("embeddings.token_type_embeddings.weight").getRow(0).toFloatVector();
        float[] lw = vec("embeddings.LayerNorm.weight");
        float[] lb = vec("embeddings.LayerNorm.bias");
        FloatBuffer sf = RowWork.floats(sum);
        FloatBuffer xf = RowWork.floats(x);
        int first = c.firstPosition();
        RowWork rw = work();
        rw.rows((int) sum.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            for (int r = r0; r < r1; r++) {
                sf.get(r * e, s1, 0, e);
                pf.get((first + r % n) * e, s2, 0, e);
                rw.ops.addBias(s1, 0, s1, 0, e, s2, 0);
                rw.ops.addBias(s1, 0, s1, 0, e, tokenType, 0);
                sf.put(r * e, s1, 0, e);
                rw.ops.layerNorm(s1, s1, 0, e, lw, lb, eps);
                if (drop != null) {
                    drop.fill(s2, 0, (long) r * e, e);
                    rw.ops.multiply(s1, 0, s2, 0, e);
                }
                xf.put(r * e, s1, 0, e);
            }
        });
    }

    /** Whether {@code a} is one of the reused arrays (by identity). */
    private boolean isScratch(INDArray a) {
        for (INDArray v : scratch.values()) {
            if (v == a) return true;
        }
        return false;
    }

    /** float32: the five projection weights {@code [5E, E]} concatenated into a reused array. */
    private INDArray fusedWeightsFloat(String s) {
        int e = c.hiddenSize();
        INDArray w5 = buf("w5cat", 5L * e, e);
        for (int k = 0; k < 5; k++) {
            w5.get(interval((long) k * e, (long) (k + 1) * e), all()).assign(p(s + FIVE[k] + ".weight"));
        }
        return w5;
    }

    /**
     * The backward pass of the last {@link #forward}: adds the gradient of every parameter of the run layers and the
     * embeddings into the arrays {@code grad} returns (by full name, same shapes and type as the parameters), and
     * releases the forward's tape.
     *
     * @param dHidden {@code [B, n, E]} the gradient of the last hidden state
     * @return {@code [B, n, E]} the gradient of the input embeddings
     */
    public INDArray backward(INDArray dHidden, Function<String, INDArray> grad) {
        if (tapes.size() != layers || embedSum == null) {
            throw new IllegalStateException("backward needs a forward first (once)");
        }
        int e = c.hiddenSize();
        int bn = b * n;
        Function<String, INDArray> gr = name -> {
            INDArray a = grad.apply(prefix + name);
            if (a == null) throw new IllegalArgumentException("no gradient array for " + prefix + name);
            return a;
        };
        timer.reset();
        if (dt == DataType.FLOAT) {
            return backwardFloat(dHidden, gr);
        }
        INDArray dy = Nd4j.create(dt, bn, e);
        dy.assign(dHidden.reshape(bn, e));
        for (int l = layers - 1; l >= 0; l--) {
            LayerTape t = tapes.get(l);
            INDArray dx = layerBackward(l, t, dy, gr);
            free(dy);
            t.release();
            dy = dx;
        }
        // embeddings: drop(LN(sum))
        applyDropout(dy, embedDrop, 0);
        INDArray dSum = layerNormBackward(embedSum, dy, p("embeddings.LayerNorm.weight"),
                gr.apply("embeddings.LayerNorm.weight"), gr.apply("embeddings.LayerNorm.bias"));
        free(dy);
        addColumnSums(dSum.reshape(b, (long) n * e), gr.apply("embeddings.position_embeddings.weight")
                .get(interval(c.firstPosition(), c.firstPosition() + n), all()));
        addColumnSums(dSum, gr.apply("embeddings.token_type_embeddings.weight").getRow(0));
        releaseTape();
        timer.lap("bwd: embeddings");
        return dSum.reshape(b, n, e);
    }

    private INDArray layerBackward(int l, LayerTape t, INDArray dOut, Function<String, INDArray> gr) {
        int w = c.oneSidedWindow(l);
        LongformerExecutor.RowMasks rm = masksByWindow.get(w);
        AttentionBackprop att = attentionByWindow.get(w);
        String o = "encoder.layer." + l + ".";
        String s = o + "attention.self.";
        // output LayerNorm, FFN out (dropout), residual
        INDArray dz2 = layerNormBackward(t.z2, dOut, p(o + "output.LayerNorm.weight"),
                gr.apply(o + "output.LayerNorm.weight"), gr.apply(o + "output.LayerNorm.bias"));
        INDArray df2 = dz2.dup('c');
        applyDropout(df2, t.outDrop, 0);
        addColumnSums(df2, gr.apply(o + "output.dense.bias"));
        INDArray[] n1 = normalize(t.z1);
        INDArray xhat1 = n1[0];
        INDArray y1 = xhat1.mulRowVector(p(o + "attention.output.LayerNorm.weight"))
                .addiRowVector(p(o + "attention.output.LayerNorm.bias"));
        timer.lap("bwd: LayerNorms, dropout, biases");
        INDArray u = t.u;
        if (u == null) {
            u = linear(y1, p(o + "intermediate.dense.weight"), p(o + "intermediate.dense.bias"));
            timer.lap("bwd: recompute FFN in (GEMM)");
        }
        t.u = null;
        // f = u Phi(u), f' = Phi(u) + u phi(u)
        INDArray phi = u.mul(1.0 / Math.sqrt(2.0));
        Nd4j.exec(new Erf(phi, phi));
        phi.addi(1.0).muli(0.5);
        INDArray f = u.mul(phi);
        INDArray dens = u.mul(u).muli(-0.5);
        Nd4j.exec(new Exp(dens, dens));
        dens.muli(u).muli(INV_SQRT_2PI);
        INDArray fPrime = phi.addi(dens);
        free(u, dens);
        timer.lap("bwd: GELU and derivative");
        Nd4j.gemm(df2, f, gr.apply(o + "output.dense.weight"), true, false, 1.0, 1.0);
        timer.lap("bwd: FFN out weight (GEMM)");
        INDArray du = f; // reuse: df = df2 Wf, then du = df f'
        Nd4j.gemm(df2, p(o + "output.dense.weight"), du, false, false, 1.0, 0.0);
        free(df2);
        timer.lap("bwd: FFN out input (GEMM)");
        du.muli(fPrime);
        free(fPrime);
        addColumnSums(du, gr.apply(o + "intermediate.dense.bias"));
        timer.lap("bwd: GELU and derivative");
        Nd4j.gemm(du, y1, gr.apply(o + "intermediate.dense.weight"), true, false, 1.0, 1.0);
        free(y1);
        timer.lap("bwd: FFN in weight (GEMM)");
        INDArray dy1 = dz2;
        Nd4j.gemm(du, p(o + "intermediate.dense.weight"), dy1, false, false, 1.0, 1.0);
        free(du);
        timer.lap("bwd: FFN in input (GEMM)");
        // attention output LayerNorm, output projection (dropout), residual
        INDArray dz1 = layerNormBackward(xhat1, n1[1], dy1, p(o + "attention.output.LayerNorm.weight"),
                gr.apply(o + "attention.output.LayerNorm.weight"), gr.apply(o + "attention.output.LayerNorm.bias"));
        free(xhat1, n1[1], dy1);
        INDArray da = dz1.dup('c');
        applyDropout(da, t.attnOutDrop, 0);
        addColumnSums(da, gr.apply(o + "attention.output.dense.bias"));
        timer.lap("bwd: LayerNorms, dropout, biases");
        Nd4j.gemm(da, t.attn, gr.apply(o + "attention.output.dense.weight"), true, false, 1.0, 1.0);
        INDArray dAttn = Nd4j.create(dt, (long) b * n, c.hiddenSize());
        Nd4j.gemm(da, p(o + "attention.output.dense.weight"), dAttn, false, false, 1.0, 0.0);
        free(da);
        timer.lap("bwd: output projection (2 GEMMs)");
        // attention
        INDArray dx = dz1;
        INDArray proj = t.proj;
        if (proj == null) {
            proj = projections(t.x, s);
            timer.lap("bwd: recompute projections (GEMM)");
        }
        t.proj = null;
        INDArray dProj = Nd4j.create(dt, (long) b * n, 5L * c.hiddenSize());
        for (int r = 0; r < b; r++) {
            att.backward(rows(proj, r), rows(t.x, r), rm, r, p(s + "query_global.weight"), p(s + "query_global.bias"),
                    t.windowDrop != null ? new AttentionBackprop.Dropout(t.windowDrop, t.globalDrop, r) : null,
                    t.attn, dAttn,
                    rows(dProj, r), rows(dx, r), gr.apply(s + "query_global.weight"), gr.apply(s + "query_global.bias"));
        }
        free(proj, dAttn);
        timer.lap("bwd: attention (other)");
        // fused projections: dW5 = dP^T x, db5 = column sums, dx += dP W5
        int e = c.hiddenSize();
        INDArray w5 = fusedWeights(s);
        INDArray dW5 = Nd4j.create(dt, 5L * e, e);
        Nd4j.gemm(dProj, t.x, dW5, true, false, 1.0, 0.0);
        timer.lap("bwd: projection weights (GEMM)");
        INDArray db5 = Nd4j.zeros(dt, 5L * e);
        addColumnSums(dProj, db5);
        for (int k = 0; k < 5; k++) {
            gr.apply(s + FIVE[k] + ".weight").addi(dW5.get(interval((long) k * e, (long) (k + 1) * e), all()));
            gr.apply(s + FIVE[k] + ".bias").addi(db5.get(interval((long) k * e, (long) (k + 1) * e)));
        }
        timer.lap("bwd: LayerNorms, dropout, biases");
        Nd4j.gemm(dProj, w5, dx, false, false, 1.0, 1.0);
        free(w5, dW5, db5, dProj);
        timer.lap("bwd: projection input (GEMM)");
        return dx;
    }

    /** {@code x W5^T + b5}: the five n-row projections of a layer in one GEMM, {@code [B n, 5E]}. */
    private INDArray projections(INDArray x, String s) {
        INDArray w5 = fusedWeights(s);
        INDArray b5 = Nd4j.concat(0, p(s + "query.bias"), p(s + "key.bias"), p(s + "value.bias"),
                p(s + "key_global.bias"), p(s + "value_global.bias"));
        INDArray proj = Nd4j.create(dt, x.size(0), w5.size(0));
        Nd4j.gemm(x, w5, proj, false, true, 1.0, 0.0);
        proj.addiRowVector(b5.reshape(1, w5.size(0)));
        free(w5, b5);
        return proj;
    }

    private INDArray fusedWeights(String s) {
        return Nd4j.concat(0, p(s + "query.weight"), p(s + "key.weight"), p(s + "value.weight"),
                p(s + "key_global.weight"), p(s + "value_global.weight"));
    }

    /** Rows of batch row r of a {@code [B n, cols]} array (a view). */
    private INDArray rows(INDArray a, int r) {
        return a.get(interval((long) r * n, (long) (r + 1) * n), all());
    }

    /** {@code x W^T + b} as a new array. */
    private INDArray linear(INDArray x, INDArray weight, INDArray bias) {
        INDArray y = Nd4j.create(dt, x.size(0), weight.size(0));
        Nd4j.gemm(x, weight, y, false, true, 1.0, 0.0);
        y.addiRowVector(bias);
        return y;
    }

    /** Multiplies {@code a} (c order, elements from {@code from} of the site) by a dropout mask, in place. */
    private void applyDropout(INDArray a, DropoutBits bits, long from) {
        if (bits == null) return;
        INDArray m = bits.array(from, dt, a.shape());
        a.muli(m);
        free(m);
    }

    /** {@code target += column sums of a} ({@code [rows, cols]}, target of {@code cols} contiguous values), as a GEMM. */
    private void addColumnSums(INDArray a, INDArray target) {
        Nd4j.gemm(ones(a.size(0)), a, target.reshape(1, a.size(1)), true, false, 1.0, 1.0);
    }

    private INDArray ones(long rows) {
        if (ones == null || ones.size(0) != rows || ones.dataType() != dt) {
            free(ones);
            ones = Nd4j.ones(dt, rows, 1);
        }
        return ones;
    }

    /** {@code (z - mean) * rsqrt(var + eps)} over rows and the row factors {@code rsqrt(var + eps)} {@code [rows, 1]}. */
    private INDArray[] normalize(INDArray z) {
        INDArray mean = z.mean(true, 1);
        INDArray xhat = z.subColumnVector(mean);
        INDArray sq = xhat.mul(xhat);
        INDArray rstd = sq.mean(true, 1);
        free(sq, mean);
        rstd.addi(c.layerNormEps());
        Nd4j.exec(new RSqrt(rstd, rstd));
        xhat.muliColumnVector(rstd);
        return new INDArray[]{xhat, rstd};
    }

    /** LayerNorm of {@code z} (as {@link GraphOps#layerNorm}) as a new array. */
    private INDArray layerNorm(INDArray z, INDArray gamma, INDArray beta) {
        INDArray[] nz = normalize(z);
        free(nz[1]);
        return nz[0].muliRowVector(gamma).addiRowVector(beta);
    }

    /** The input gradient of a LayerNorm of {@code z} given the output gradient; accumulates gamma's and beta's. */
    private INDArray layerNormBackward(INDArray z, INDArray dy, INDArray gamma, INDArray dGamma, INDArray dBeta) {
        INDArray[] nz = normalize(z);
        INDArray dz = layerNormBackward(nz[0], nz[1], dy, gamma, dGamma, dBeta);
        free(nz[0], nz[1]);
        return dz;
    }

    /**
     * {@code dz = rstd (g - mean(g) - xhat mean(g xhat))} with {@code g = dy gamma}; {@code dGamma += sum(dy xhat)},
     * {@code dBeta += sum(dy)} over rows.
     */
    private INDArray layerNormBackward(INDArray xhat, INDArray rstd, INDArray dy, INDArray gamma,
                                              INDArray dGamma, INDArray dBeta) {
        INDArray prod = dy.mul(xhat);
        addColumnSums(prod, dGamma);
        addColumnSums(dy, dBeta);
        INDArray gy = dy.mulRowVector(gamma);
        INDArray m1 = gy.mean(true, 1);
        prod.assign(gy).muli(xhat);
        INDArray m2 = prod.mean(true, 1);
        prod.assign(xhat).muliColumnVector(m2);
        gy.subiColumnVector(m1).subi(prod).muliColumnVector(rstd);
        free(prod, m1, m2);
        return gy;
    }

    /** {@link GraphOps#gelu} in place: {@code x * (erf(x / sqrt 2) + 1) * 0.5}. */
    private static void geluInPlace(INDArray x) {
        INDArray buf = x.mul(1.0 / Math.sqrt(2.0));
        Nd4j.exec(new Erf(buf, buf));
        buf.addi(1.0);
        x.muli(buf).muli(0.5);
        free(buf);
    }

    /**
     * Releases the native memory this instance keeps between passes (the float32 pass keeps its tape and working
     * arrays for the next pass of the same geometry). The instance stays usable: the next pass allocates anew.
     */
    public void release() {
        releaseTape();
    }

    /** Releases the tape and the buffers of the last forward. */
    private void releaseTape() {
        if (!tapes.isEmpty() && isScratch(tapes.get(0).x)) {
            tapes.get(0).x = null;
        }
        if (isScratch(embedSum)) {
            embedSum = null;
        }
        lastOut = null;
        for (int l = 0; l + 1 < tapes.size(); l++) {
            if (tapes.get(l).out != null) {
                tapes.get(l + 1).x = null; // the same array as tapes[l].out
            }
        }
        for (LayerTape t : tapes) t.release();
        tapes.clear();
        free(embedSum);
        embedSum = null;
        embedDrop = null;
        for (AttentionBackprop a : attentionByWindow.values()) a.close();
        attentionByWindow.clear();
        masksByWindow.clear();
        maskKey = null;
        free(ones);
        ones = null;
        for (INDArray a : scratch.values()) {
            free(a);
        }
        scratch.clear();
    }

    // ----------------------------------------------------------------------------------------------------------
    // float32 path: the element-wise steps as row kernels over reused arrays

    /** {@code a} when it is a {@code [rows, cols]} array, else a new (uninitialised) float one ({@code a} freed). */
    private static INDArray kept(INDArray a, long rows, long cols) {
        if (a != null && a.size(0) == rows && a.size(1) == cols) {
            return a;
        }
        free(a);
        return Nd4j.createUninitialized(DataType.FLOAT, rows, cols);
    }

    /**
     * The end of a float32 pass: releases what belongs to this pass only (the embedding sums and output, the
     * dropout decisions); the tape's arrays, the reused arrays and the masks stay for the next pass of the same
     * geometry (allocating them anew costs a page fault per 4 KiB: seconds per pass at LOCORE-base size).
     */
    private void endPass() {
        if (!isScratch(embedSum)) free(embedSum);
        embedSum = null;
        embedDrop = null;
        lastOut = null;
        if (!tapes.isEmpty() && !isScratch(tapes.get(0).x)) {
            free(tapes.get(0).x);
        }
        for (LayerTape t : tapes) {
            t.x = null;
            t.windowDrop = t.globalDrop = t.attnOutDrop = t.outDrop = null;
        }
    }

    private Object[] maskKey;

    private boolean sameMasks(int[][] attentionMask, int[][] globalMask, int globalSlots) {
        return maskKey != null && java.util.Arrays.deepEquals((int[][]) maskKey[0], attentionMask)
                && java.util.Arrays.deepEquals((int[][]) maskKey[1], globalMask) && (int) maskKey[2] == globalSlots;
    }

    private static int[][] deepCopy(int[][] a) {
        int[][] c = new int[a.length][];
        for (int i = 0; i < a.length; i++) c[i] = a[i].clone();
        return c;
    }

    /** A reused (uninitialised) float array of the pass, by role; released with the tape. */
    private INDArray buf(String role, long rows, long cols) {
        INDArray a = scratch.get(role);
        if (a == null || a.size(0) != rows || a.size(1) != cols) {
            free(a);
            a = Nd4j.createUninitialized(DataType.FLOAT, rows, cols);
            scratch.put(role, a);
        }
        return a;
    }

    /** The row work for the current geometry: rows up to the widest of 5E, FFN, n and the window rows. */
    private RowWork work() {
        int maxWindow = 0;
        for (int l = 0; l < layers; l++) maxWindow = Math.max(maxWindow, c.oneSidedWindow(l));
        int len = Math.max(Math.max(5 * c.hiddenSize(), c.intermediateSize()), 2 * n + 3 * maxWindow);
        if (work == null || work.length() < len) {
            work = new RowWork(ops, Workers.count(), len);
        }
        return work;
    }

    /** A parameter vector as a Java array. */
    private float[] vec(String name) {
        return p(name).toFloatVector();
    }

    /** One layer's forward in float32 (the tape's arrays set in {@code t}); returns the layer output. */
    private INDArray forwardLayerFloat(LayerTape t, AttentionBackprop att, LongformerExecutor.RowMasks rm, String s,
                                       String o, double hp, double ap, int g, int w, Random dropoutRng,
                                       boolean last) {
        int e = c.hiddenSize();
        int ffn = c.intermediateSize();
        int bn = b * n;
        INDArray x = t.x;
        boolean fast = checkpointing == Checkpointing.FAST;
        INDArray proj = fast ? (t.proj = kept(t.proj, bn, 5L * e)) : buf("proj", bn, 5L * e);
        projectionsInto(x, s, proj);
        timer.lap("fwd: projections (GEMM)");
        int nb = (n + w - 1) / w;
        t.windowDrop = ap > 0 ? DropoutBits.draw(dropoutRng, (long) b * c.numHeads() * nb * w * (g + 3L * w), ap) : null;
        t.globalDrop = ap > 0 && g > 0 ? DropoutBits.draw(dropoutRng, (long) b * c.numHeads() * g * n, ap) : null;
        timer.lap("dropout draws");
        t.attn = kept(t.attn, bn, e);
        for (int r = 0; r < b; r++) {
            att.forward(rows(proj, r), rows(x, r), rm, r, p(s + "query_global.weight"), p(s + "query_global.bias"),
                    ap > 0 ? new AttentionBackprop.Dropout(t.windowDrop, t.globalDrop, r) : null, rows(t.attn, r));
        }
        INDArray a = buf("e1", bn, e);
        Nd4j.gemm(t.attn, p(o + "attention.output.dense.weight"), a, false, true, 1.0, 0.0);
        timer.lap("fwd: output projection (GEMM)");
        t.attnOutDrop = hp > 0 ? DropoutBits.draw(dropoutRng, (long) bn * e, hp) : null;
        t.z1 = kept(t.z1, bn, e);
        INDArray y1 = buf("e2", bn, e);
        residualLayerNorm(x, a, vec(o + "attention.output.dense.bias"), t.attnOutDrop, t.z1, y1,
                vec(o + "attention.output.LayerNorm.weight"), vec(o + "attention.output.LayerNorm.bias"));
        timer.lap("fwd: dropout, residual, LayerNorm");
        INDArray u = fast ? (t.u = kept(t.u, bn, ffn)) : buf("f1", bn, ffn);
        Nd4j.gemm(y1, p(o + "intermediate.dense.weight"), u, false, true, 1.0, 0.0);
        timer.lap("fwd: FFN in (GEMM)");
        INDArray f = buf("f2", bn, ffn);
        biasGeluRows(u, vec(o + "intermediate.dense.bias"), f);
        timer.lap("fwd: GELU");
        INDArray f2 = a;
        Nd4j.gemm(f, p(o + "output.dense.weight"), f2, false, true, 1.0, 0.0);
        timer.lap("fwd: FFN out (GEMM)");
        t.outDrop = hp > 0 ? DropoutBits.draw(dropoutRng, (long) bn * e, hp) : null;
        t.z2 = kept(t.z2, bn, e);
        // the last output goes to the caller: a new array; the others stay on the tape
        INDArray out;
        if (last) {
            free(t.out);
            t.out = null;
            out = Nd4j.createUninitialized(DataType.FLOAT, bn, e);
        } else {
            out = t.out = kept(t.out, bn, e);
        }
        residualLayerNorm(y1, f2, vec(o + "output.dense.bias"), t.outDrop, t.z2, out,
                vec(o + "output.LayerNorm.weight"), vec(o + "output.LayerNorm.bias"));
        timer.lap("fwd: dropout, residual, LayerNorm");
        return out;
    }

    /** {@code proj = x W5^T + b5} (float32; bias by the row kernels). */
    private void projectionsInto(INDArray x, String s, INDArray proj) {
        INDArray w5 = fusedWeightsFloat(s);
        Nd4j.gemm(x, w5, proj, false, true, 1.0, 0.0);
        float[][] parts = {vec(s + "query.bias"), vec(s + "key.bias"), vec(s + "value.bias"),
                vec(s + "key_global.bias"), vec(s + "value_global.bias")};
        int e = c.hiddenSize();
        float[] b5 = new float[5 * e];
        for (int k = 0; k < 5; k++) System.arraycopy(parts[k], 0, b5, k * e, e);
        addBiasRows(proj, b5);
    }

    /** {@code a += bias} row by row. */
    private void addBiasRows(INDArray a, float[] bias) {
        int cols = (int) a.size(1);
        FloatBuffer af = RowWork.floats(a);
        RowWork rw = work();
        rw.rows((int) a.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            for (int r = r0; r < r1; r++) {
                af.get(r * cols, s1, 0, cols);
                rw.ops.addBias(s1, 0, s1, 0, cols, bias, 0);
                af.put(r * cols, s1, 0, cols);
            }
        });
    }

    /**
     * Row by row: {@code z = x + drop(a + bias)} (kept in {@code z}), {@code y = LayerNorm(z)}.
     */
    private void residualLayerNorm(INDArray x, INDArray a, float[] bias, DropoutBits drop, INDArray z, INDArray y,
                                   float[] lw, float[] lb) {
        int e = c.hiddenSize();
        float eps = (float) c.layerNormEps();
        FloatBuffer xf = RowWork.floats(x);
        FloatBuffer af = RowWork.floats(a);
        FloatBuffer zf = RowWork.floats(z);
        FloatBuffer yf = RowWork.floats(y);
        RowWork rw = work();
        rw.rows((int) x.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            float[] m = rw.row(k, 2);
            for (int r = r0; r < r1; r++) {
                xf.get(r * e, s1, 0, e);
                af.get(r * e, s2, 0, e);
                if (drop != null) {
                    drop.fill(m, 0, (long) r * e, e);
                }
                rw.ops.residual(s1, s2, 0, e, bias, drop == null ? null : m);
                zf.put(r * e, s1, 0, e);
                rw.ops.layerNorm(s1, s1, 0, e, lw, lb, eps);
                yf.put(r * e, s1, 0, e);
            }
        });
    }

    /** {@code y = LayerNorm(z)} row by row. */
    private void layerNormRows(INDArray z, INDArray y, float[] lw, float[] lb) {
        int e = c.hiddenSize();
        float eps = (float) c.layerNormEps();
        FloatBuffer zf = RowWork.floats(z);
        FloatBuffer yf = RowWork.floats(y);
        RowWork rw = work();
        rw.rows((int) z.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            for (int r = r0; r < r1; r++) {
                zf.get(r * e, s1, 0, e);
                rw.ops.layerNorm(s1, s1, 0, e, lw, lb, eps);
                yf.put(r * e, s1, 0, e);
            }
        });
    }

    /** Row by row: {@code u += bias} (kept), {@code f = gelu(u)} (exact GELU). */
    private void biasGeluRows(INDArray u, float[] bias, INDArray f) {
        int cols = (int) u.size(1);
        FloatBuffer uf = RowWork.floats(u);
        FloatBuffer ff = RowWork.floats(f);
        RowWork rw = work();
        float[] zero = new float[cols];
        rw.rows((int) u.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            for (int r = r0; r < r1; r++) {
                uf.get(r * cols, s1, 0, cols);
                rw.ops.addBias(s1, 0, s1, 0, cols, bias, 0);
                uf.put(r * cols, s1, 0, cols);
                rw.ops.biasGelu(s1, 0, cols, zero);
                ff.put(r * cols, s1, 0, cols);
            }
        });
    }

    /** Row by row {@code f = gelu(u)}, {@code g = gelu'(u)}. */
    private void geluAndGradRows(INDArray u, INDArray f, INDArray g) {
        int cols = (int) u.size(1);
        FloatBuffer uf = RowWork.floats(u);
        FloatBuffer ff = RowWork.floats(f);
        FloatBuffer gf = RowWork.floats(g);
        RowWork rw = work();
        rw.rows((int) u.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            float[] s3 = rw.row(k, 2);
            for (int r = r0; r < r1; r++) {
                uf.get(r * cols, s1, 0, cols);
                rw.ops.geluAndGrad(s1, s2, s3, 0, cols);
                ff.put(r * cols, s2, 0, cols);
                gf.put(r * cols, s3, 0, cols);
            }
        });
    }

    /** Row by row {@code a *= m}; adds the column sums of the new {@code a} to {@code dBias}. */
    private void multiplyRows(INDArray a, INDArray m, INDArray dBias) {
        int cols = (int) a.size(1);
        FloatBuffer af = RowWork.floats(a);
        FloatBuffer mf = RowWork.floats(m);
        RowWork rw = work();
        rw.clearAcc(cols);
        rw.rows((int) a.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            float[] acc = rw.acc(k, 0);
            for (int r = r0; r < r1; r++) {
                af.get(r * cols, s1, 0, cols);
                mf.get(r * cols, s2, 0, cols);
                rw.ops.multiply(s1, 0, s2, 0, cols);
                af.put(r * cols, s1, 0, cols);
                rw.ops.accumulate(acc, s1, 0, cols);
            }
        });
        addInto(dBias, rw.sumAcc(0, cols));
    }

    /** The column sums of {@code a} (row by row, per worker, summed in worker order). */
    private float[] columnSums(INDArray a) {
        int cols = (int) a.size(1);
        FloatBuffer af = RowWork.floats(a);
        RowWork rw = work();
        rw.clearAcc(cols);
        rw.rows((int) a.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            float[] acc = rw.acc(k, 0);
            for (int r = r0; r < r1; r++) {
                af.get(r * cols, s1, 0, cols);
                rw.ops.accumulate(acc, s1, 0, cols);
            }
        });
        return rw.sumAcc(0, cols);
    }

    /**
     * LayerNorm backward row by row: {@code g = dy} (times the mask {@code before} if given), {@code dz} = the
     * input gradient of {@code LayerNorm(z)} at output gradient g; adds to {@code dGamma, dBeta}; with
     * {@code after}, also {@code dzMasked = dz * mask}; adds the column sums of {@code dz * mask} (or dz) to
     * {@code dBias} when given.
     */
    private void layerNormBackwardRows(INDArray z, INDArray dy, DropoutBits before, float[] gamma, INDArray dGamma,
                                       INDArray dBeta, INDArray dz, DropoutBits after, INDArray dzMasked,
                                       INDArray dBias) {
        int e = c.hiddenSize();
        float eps = (float) c.layerNormEps();
        FloatBuffer zf = RowWork.floats(z);
        FloatBuffer dyf = RowWork.floats(dy);
        FloatBuffer dzf = RowWork.floats(dz);
        FloatBuffer mf = after == null ? null : RowWork.floats(dzMasked);
        RowWork rw = work();
        rw.clearAcc(e);
        rw.rows((int) z.size(0), (k, r0, r1) -> {
            float[] s1 = rw.row(k, 0);
            float[] s2 = rw.row(k, 1);
            float[] m = rw.row(k, 2);
            float[] ag = rw.acc(k, 0);
            float[] ab = rw.acc(k, 1);
            float[] abias = rw.acc(k, 2);
            for (int r = r0; r < r1; r++) {
                zf.get(r * e, s1, 0, e);
                dyf.get(r * e, s2, 0, e);
                if (before != null) {
                    before.fill(m, 0, (long) r * e, e);
                    rw.ops.multiply(s2, 0, m, 0, e);
                }
                rw.ops.layerNormBackward(s1, s2, s2, 0, e, gamma, eps, ag, ab);
                dzf.put(r * e, s2, 0, e);
                if (after != null) {
                    after.fill(m, 0, (long) r * e, e);
                    rw.ops.multiply(s2, 0, m, 0, e);
                    mf.put(r * e, s2, 0, e);
                }
                if (dBias != null) {
                    rw.ops.accumulate(abias, s2, 0, e);
                }
            }
        });
        addInto(dGamma, rw.sumAcc(0, e));
        addInto(dBeta, rw.sumAcc(1, e));
        if (dBias != null) {
            addInto(dBias, rw.sumAcc(2, e));
        }
    }

    /** {@code target += v} (target of {@code v.length} contiguous values). */
    private static void addInto(INDArray target, float[] v) {
        INDArray a = Nd4j.createFromArray(v);
        target.reshape(v.length).addi(a);
        free(a);
    }

    /** The float32 backward (as {@link #backward}). */
    private INDArray backwardFloat(INDArray dHidden, Function<String, INDArray> gr) {
        int e = c.hiddenSize();
        int bn = b * n;
        INDArray dy = buf("dyA", bn, e);
        dy.assign(dHidden.reshape(bn, e));
        INDArray dx = buf("dyB", bn, e);
        for (int l = layers - 1; l >= 0; l--) {
            LayerTape t = tapes.get(l);
            layerBackwardFloat(l, t, dy, dx, gr);
            INDArray swap = dy;
            dy = dx;
            dx = swap;
        }
        // embeddings: drop(LN(sum))
        INDArray dSum = Nd4j.createUninitialized(DataType.FLOAT, bn, e);
        layerNormBackwardRows(embedSum, dy, embedDrop, vec("embeddings.LayerNorm.weight"),
                gr.apply("embeddings.LayerNorm.weight"), gr.apply("embeddings.LayerNorm.bias"), dSum, null, null,
                null);
        addColumnSums(dSum.reshape(b, (long) n * e), gr.apply("embeddings.position_embeddings.weight")
                .get(interval(c.firstPosition(), c.firstPosition() + n), all()));
        addInto(gr.apply("embeddings.token_type_embeddings.weight").getRow(0), columnSums(dSum));
        endPass();
        timer.lap("bwd: embeddings");
        return dSum.reshape(b, n, e);
    }

    /** One layer's backward in float32: reads {@code dOut}, writes the layer input's gradient into {@code dx}. */
    private void layerBackwardFloat(int l, LayerTape t, INDArray dOut, INDArray dx, Function<String, INDArray> gr) {
        int w = c.oneSidedWindow(l);
        LongformerExecutor.RowMasks rm = masksByWindow.get(w);
        AttentionBackprop att = attentionByWindow.get(w);
        String o = "encoder.layer." + l + ".";
        String s = o + "attention.self.";
        int e = c.hiddenSize();
        int ffn = c.intermediateSize();
        int bn = b * n;
        // output LayerNorm, FFN out (dropout, bias), residual
        INDArray dz2 = buf("e1", bn, e);
        INDArray df2 = t.outDrop == null ? dz2 : buf("e2", bn, e);
        layerNormBackwardRows(t.z2, dOut, null, vec(o + "output.LayerNorm.weight"),
                gr.apply(o + "output.LayerNorm.weight"), gr.apply(o + "output.LayerNorm.bias"), dz2, t.outDrop, df2,
                gr.apply(o + "output.dense.bias"));
        INDArray y1 = buf("e3", bn, e);
        layerNormRows(t.z1, y1, vec(o + "attention.output.LayerNorm.weight"),
                vec(o + "attention.output.LayerNorm.bias"));
        timer.lap("bwd: LayerNorms, dropout, biases");
        INDArray u = t.u;
        if (u == null) {
            u = buf("f1", bn, ffn);
            Nd4j.gemm(y1, p(o + "intermediate.dense.weight"), u, false, true, 1.0, 0.0);
            addBiasRows(u, vec(o + "intermediate.dense.bias"));
            timer.lap("bwd: recompute FFN in (GEMM)");
        }
        INDArray f = buf("f2", bn, ffn);
        INDArray fPrime = buf("f3", bn, ffn);
        geluAndGradRows(u, f, fPrime);
        timer.lap("bwd: GELU and derivative");
        Nd4j.gemm(df2, f, gr.apply(o + "output.dense.weight"), true, false, 1.0, 1.0);
        timer.lap("bwd: FFN out weight (GEMM)");
        INDArray du = f;
        Nd4j.gemm(df2, p(o + "output.dense.weight"), du, false, false, 1.0, 0.0);
        timer.lap("bwd: FFN out input (GEMM)");
        multiplyRows(du, fPrime, gr.apply(o + "intermediate.dense.bias"));
        timer.lap("bwd: GELU and derivative");
        Nd4j.gemm(du, y1, gr.apply(o + "intermediate.dense.weight"), true, false, 1.0, 1.0);
        timer.lap("bwd: FFN in weight (GEMM)");
        INDArray dy1 = dz2;
        Nd4j.gemm(du, p(o + "intermediate.dense.weight"), dy1, false, false, 1.0, 1.0);
        timer.lap("bwd: FFN in input (GEMM)");
        // attention output LayerNorm, output projection (dropout, bias), residual
        INDArray da = t.attnOutDrop == null ? dx : buf("e2", bn, e);
        layerNormBackwardRows(t.z1, dy1, null, vec(o + "attention.output.LayerNorm.weight"),
                gr.apply(o + "attention.output.LayerNorm.weight"), gr.apply(o + "attention.output.LayerNorm.bias"),
                dx, t.attnOutDrop, da, gr.apply(o + "attention.output.dense.bias"));
        timer.lap("bwd: LayerNorms, dropout, biases");
        Nd4j.gemm(da, t.attn, gr.apply(o + "attention.output.dense.weight"), true, false, 1.0, 1.0);
        INDArray dAttn = buf("e3", bn, e);
        Nd4j.gemm(da, p(o + "attention.output.dense.weight"), dAttn, false, false, 1.0, 0.0);
        timer.lap("bwd: output projection (2 GEMMs)");
        // attention
        INDArray proj = t.proj;
        if (proj == null) {
            proj = buf("proj", bn, 5L * e);
            projectionsInto(t.x, s, proj);
            timer.lap("bwd: recompute projections (GEMM)");
        }
        INDArray dProj = buf("p", bn, 5L * e);
        for (int r = 0; r < b; r++) {
            att.backward(rows(proj, r), rows(t.x, r), rm, r, p(s + "query_global.weight"), p(s + "query_global.bias"),
                    t.windowDrop != null ? new AttentionBackprop.Dropout(t.windowDrop, t.globalDrop, r) : null,
                    t.attn, dAttn,
                    rows(dProj, r), rows(dx, r), gr.apply(s + "query_global.weight"), gr.apply(s + "query_global.bias"));
        }
        timer.lap("bwd: attention (other)");
        // fused projections: dW5 = dP^T x, db5 = column sums, dx += dP W5
        INDArray w5 = fusedWeightsFloat(s);
        INDArray dW5 = buf("w5", 5L * e, e);
        Nd4j.gemm(dProj, t.x, dW5, true, false, 1.0, 0.0);
        timer.lap("bwd: projection weights (GEMM)");
        float[] db5 = columnSums(dProj);
        for (int k = 0; k < 5; k++) {
            gr.apply(s + FIVE[k] + ".weight").addi(dW5.get(interval((long) k * e, (long) (k + 1) * e), all()));
            addInto(gr.apply(s + FIVE[k] + ".bias"), java.util.Arrays.copyOfRange(db5, k * e, (k + 1) * e));
        }
        timer.lap("bwd: LayerNorms, dropout, biases");
        Nd4j.gemm(dProj, w5, dx, false, false, 1.0, 1.0);
        timer.lap("bwd: projection input (GEMM)");
    }
}
