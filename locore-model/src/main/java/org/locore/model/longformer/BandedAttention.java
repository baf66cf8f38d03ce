package org.locore.model.longformer;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

/**
 * Longformer self-attention (HF {@code LongformerSelfAttention} semantics) as a composite SameDiff op: the
 * sub-graph is built from primitives (2-D and batched matmuls, slices, concatenations, softmax), so that
 * SameDiff differentiates it, and memory stays O(n * w): no n x n score matrix is ever formed.
 *
 * <p>Semantics, with one-sided window {@code w} and scores scaled by {@code 1/sqrt(headDim)} on the query:
 * <ul>
 *   <li>a non-global, unmasked token i attends to the unmasked, non-global tokens j with |i - j| &lt;= w and to
 *       every global token, all with the ordinary query/key/value projections (a global key counted once);</li>
 *   <li>a global token attends to every unmasked token with the {@code query_global}, {@code key_global},
 *       {@code value_global} projections;</li>
 *   <li>a masked token attends to nothing: its output is zero (before the output projection). A token marked
 *       global but masked is masked.</li>
 * </ul>
 *
 * <p>Formulation: the (padded) sequence is cut into blocks of {@code w} queries; block c sees the keys of
 * blocks c-1, c, c+1 (3w keys) plus G global-key columns. Validity (band, masks, global keys, sequence ends)
 * is an additive bias built once per batch by {@link Masks}. Global rows are computed separately against all
 * keys (G x n) and scattered back with a one-hot matmul (gather has no working gradient in M2.1).
 */
public final class BandedAttention {
    /** Added to the score of a key that must not be attended to. */
    public static final double NEG = -1e9;

    private BandedAttention() {
    }

    /** The twelve projection parameters of one layer, weights in PyTorch layout {@code [out, in]}. */
    public record Weights(SDVariable queryW, SDVariable queryB, SDVariable keyW, SDVariable keyB,
                          SDVariable valueW, SDVariable valueB, SDVariable queryGlobalW, SDVariable queryGlobalB,
                          SDVariable keyGlobalW, SDVariable keyGlobalB, SDVariable valueGlobalW,
                          SDVariable valueGlobalB) {
    }

    /**
     * The graph inputs that carry masks (placeholders made by {@link Masks#placeholders}).
     *
     * @param windowBias    {@code [B, 1, nb, w, G + 3w]}
     * @param globalSelect  {@code [B, G, n]} one-hot rows selecting the global tokens (zero rows for unused slots)
     * @param globalKeyBias {@code [B, 1, 1, n]}, 0 for unmasked keys
     * @param localRows     {@code [B, n, 1]}, 1 for unmasked non-global tokens
     */
    public record MaskVariables(SDVariable windowBias, SDVariable globalSelect, SDVariable globalKeyBias,
                                SDVariable localRows) {
    }

    /**
     * Masks for one batch and one window size, computed from the attention mask (1 = attend, 0 = padding) and
     * the global-attention mask (1 = global).
     */
    public static final class Masks {
        private final int batch;
        private final int length;
        private final int window;
        private final int globals;
        private final INDArray windowBias;
        private final INDArray globalSelect;
        private final INDArray globalKeyBias;
        private final INDArray localRows;

        private Masks(int batch, int length, int window, int globals, INDArray windowBias, INDArray globalSelect,
                      INDArray globalKeyBias, INDArray localRows) {
            this.batch = batch;
            this.length = length;
            this.window = window;
            this.globals = globals;
            this.windowBias = windowBias;
            this.globalSelect = globalSelect;
            this.globalKeyBias = globalKeyBias;
            this.localRows = localRows;
        }

        /**
         * Builds the masks.
         *
         * @param attention       {@code [B][n]}, 1 = attend, 0 = padding
         * @param global          {@code [B][n]}, 1 = global attention (ignored where {@code attention} is 0)
         * @param oneSidedWindow  w (half the configured attention window)
         * @param globalSlots     number of global slots G; at least the largest count of effective global tokens
         *                        in a row, or -1 for exactly that count
         * @param dtype           floating type of the bias arrays
         */
        public static Masks of(int[][] attention, int[][] global, int oneSidedWindow, int globalSlots, DataType dtype) {
            return build(attention, global, oneSidedWindow, globalSlots, dtype, true);
        }

        /**
         * As {@link #of} without the window bias ({@link #windowBiasArray()} is then null): for
         * {@link LongformerExecutor}, which applies the band and the window keys' bias row by row.
         */
        static Masks withoutWindowBias(int[][] attention, int[][] global, int oneSidedWindow, int globalSlots,
                                       DataType dtype) {
            return build(attention, global, oneSidedWindow, globalSlots, dtype, false);
        }

        private static Masks build(int[][] attention, int[][] global, int oneSidedWindow, int globalSlots,
                                   DataType dtype, boolean withWindowBias) {
            int b = attention.length;
            int n = attention[0].length;
            int w = oneSidedWindow;
            if (w <= 0) {
                throw new IllegalArgumentException("one-sided window must be positive: " + w);
            }
            int[][] globalIdx = new int[b][];
            int maxG = 0;
            for (int r = 0; r < b; r++) {
                if (attention[r].length != n || global[r].length != n) {
                    throw new IllegalArgumentException("mask rows must all have length " + n);
                }
                int c = 0;
                for (int j = 0; j < n; j++) {
                    if (isGlobal(attention, global, r, j)) c++;
                }
                globalIdx[r] = new int[c];
                c = 0;
                for (int j = 0; j < n; j++) {
                    if (isGlobal(attention, global, r, j)) globalIdx[r][c++] = j;
                }
                maxG = Math.max(maxG, c);
            }
            int g = globalSlots < 0 ? maxG : globalSlots;
            if (g < maxG) {
                throw new IllegalArgumentException(globalSlots + " global slots for " + maxG + " global tokens");
            }
            int nb = (n + w - 1) / w;
            int np = nb * w;
            int cols = g + 3 * w;
            // float storage: 0, 1 and NEG are exact enough in float32, and the window bias is the largest array
            float neg = (float) NEG;
            float[] bias = withWindowBias ? new float[Math.multiplyExact(b * np, cols)] : null;
            float[] select = new float[b * g * n];
            float[] keyBias = new float[b * n];
            float[] rows = new float[b * n];
            for (int r = 0; r < b; r++) {
                for (int s = 0; s < globalIdx[r].length; s++) {
                    select[(r * g + s) * n + globalIdx[r][s]] = 1;
                }
                boolean[] windowKey = new boolean[n];
                for (int j = 0; j < n; j++) {
                    keyBias[r * n + j] = attention[r][j] != 0 ? 0 : neg;
                    rows[r * n + j] = attention[r][j] != 0 && global[r][j] == 0 ? 1 : 0;
                    windowKey[j] = attention[r][j] != 0 && global[r][j] == 0;
                }
                for (int i = 0; withWindowBias && i < np; i++) {
                    int base = (r * np + i) * cols;
                    for (int s = globalIdx[r].length; s < g; s++) {
                        bias[base + s] = neg;
                    }
                    int blockStart = (i / w - 1) * w;
                    for (int t = 0; t < 3 * w; t++) {
                        int j = blockStart + t;
                        boolean ok = j >= 0 && j < n && Math.abs(i - j) <= w && windowKey[j];
                        if (!ok) bias[base + g + t] = neg;
                    }
                }
            }
            return new Masks(b, n, w, g,
                    withWindowBias ? Nd4j.createFromArray(bias).reshape('c', b, 1, nb, w, cols).castTo(dtype) : null,
                    Nd4j.createFromArray(select).reshape('c', b, g, n).castTo(dtype),
                    Nd4j.createFromArray(keyBias).reshape('c', b, 1, 1, n).castTo(dtype),
                    Nd4j.createFromArray(rows).reshape('c', b, n, 1).castTo(dtype));
        }

        private static boolean isGlobal(int[][] attention, int[][] global, int r, int j) {
            return attention[r][j] != 0 && global[r][j] != 0;
        }

        /** Batch size B. */
        public int batch() {
            return batch;
        }

        /** Sequence length n. */
        public int length() {
            return length;
        }

        /** One-sided window w. */
        public int window() {
            return window;
        }

        /** Global slots G. */
        public int globals() {
            return globals;
        }

        /** The window bias {@code [B, 1, nb, w, G + 3w]} (null when built {@link #withoutWindowBias}). */
        INDArray windowBiasArray() {
            return windowBias;
        }

        /** The global-key bias {@code [B, 1, 1, n]}. */
        INDArray globalKeyBiasArray() {
            return globalKeyBias;
        }

        /** The local-row indicator {@code [B, n, 1]}. */
        INDArray localRowsArray() {
            return localRows;
        }

        /** Declares placeholders for these masks' shapes, named {@code prefix + "/window_bias"} etc. */
        public MaskVariables placeholders(SameDiff sd, String prefix, DataType dtype) {
            return new MaskVariables(
                    sd.placeHolder(prefix + "/window_bias", dtype, windowBias.shape()),
                    sd.placeHolder(prefix + "/global_select", dtype, globalSelect.shape()),
                    sd.placeHolder(prefix + "/global_key_bias", dtype, globalKeyBias.shape()),
                    sd.placeHolder(prefix + "/local_rows", dtype, localRows.shape()));
        }

        /** Puts the arrays for placeholders declared with {@code prefix} into a feed map. */
        public void feed(Map<String, INDArray> feed, String prefix) {
            feed.put(prefix + "/window_bias", windowBias);
            feed.put(prefix + "/global_select", globalSelect);
            feed.put(prefix + "/global_key_bias", globalKeyBias);
            feed.put(prefix + "/local_rows", localRows);
        }
    }

    /** A hook applied to attention probabilities (dropout while training). */
    @FunctionalInterface
    public interface ProbsHook {
        /**
         * @param probs the probabilities
         * @param name  {@code "window_probs"} or {@code "global_probs"}
         * @param shape their shape
         * @return what replaces them
         */
        SDVariable apply(SDVariable probs, String name, long[] shape);
    }

    /** {@link #apply(SDVariable, Weights, MaskVariables, Masks, int, int, DataType, ProbsHook)} without dropout. */
    public static SDVariable apply(SDVariable hidden, Weights weights, MaskVariables masks, Masks geometry,
                                   int heads, int hiddenSize, DataType dtype) {
        return apply(hidden, weights, masks, geometry, heads, hiddenSize, dtype, null);
    }

    /**
     * Emits the attention sub-graph.
     *
     * @param hidden  {@code [B, n, E]}
     * @param weights the projections
     * @param masks   mask inputs matching {@code geometry}
     * @param geometry the masks these inputs will be fed from (sizes only are used)
     * @param heads   number of heads (E divisible by it)
     * @param hiddenSize E
     * @param dtype   floating type of the graph
     * @param probsHook applied to the attention probabilities (after masking), or null
     * @return the attention output {@code [B, n, E]} before the output projection
     */
    public static SDVariable apply(SDVariable hidden, Weights weights, MaskVariables masks, Masks geometry,
                                   int heads, int hiddenSize, DataType dtype, ProbsHook probsHook) {
        SameDiff sd = hidden.getSameDiff();
        long b = geometry.batch();
        long n = geometry.length();
        long w = geometry.window();
        long g = geometry.globals();
        long e = hiddenSize;
        long h = heads;
        long d = e / h;
        long nb = (n + w - 1) / w;
        long np = nb * w;
        long bh = b * h;
        double scale = 1.0 / Math.sqrt(d);

        SDVariable x2 = hidden.reshape(b * n, e);
        SDVariable q = toHeads(GraphOps.linear(x2, weights.queryW(), weights.queryB()).mul(scale), b, n, h, d);
        SDVariable kFlat = GraphOps.linear(x2, weights.keyW(), weights.keyB());
        SDVariable vFlat = GraphOps.linear(x2, weights.valueW(), weights.valueB());
        SDVariable k = toHeads(kFlat, b, n, h, d);
        SDVariable v = toHeads(vFlat, b, n, h, d);

        // queries padded to whole blocks, keys/values padded by one block on both sides
        SDVariable qp = np > n ? sd.concat(1, q, zeros(sd, dtype, bh, np - n, d)) : q;
        SDVariable kp = sd.concat(1, zeros(sd, dtype, bh, w, d), k, zeros(sd, dtype, bh, w + np - n, d));
        SDVariable vp = sd.concat(1, zeros(sd, dtype, bh, w, d), v, zeros(sd, dtype, bh, w + np - n, d));
        SDVariable kw = windows(sd, kp, bh, nb, w, np, d);
        SDVariable vw = windows(sd, vp, bh, nb, w, np, d);
        SDVariable qb = qp.reshape(bh * nb, w, d);
        SDVariable scores = sd.mmul(qb, kw, false, true, false); // [bh*nb, w, 3w]

        SDVariable kg = null;
        SDVariable vg = null;
        if (g > 0) {
            SDVariable sel = masks.globalSelect(); // [b, g, n]
            kg = toHeads(sd.mmul(sel, kFlat.reshape(b, n, e)).reshape(b * g, e), b, g, h, d); // [bh, g, d]
            vg = toHeads(sd.mmul(sel, vFlat.reshape(b, n, e)).reshape(b * g, e), b, g, h, d);
            SDVariable sg = sd.mmul(qp, kg, false, true, false).reshape(bh * nb, w, g); // [bh*nb, w, g]
            scores = sd.concat(2, sg, scores);
        }
        long cols = g + 3 * w;
        long[] shape5 = {b, h, nb, w, cols};
        SDVariable probs = GraphOps.softmax(scores.reshape(shape5).add(masks.windowBias()), 4);
        if (probsHook != null) {
            probs = probsHook.apply(probs, "window_probs", shape5);
        }
        probs = probs.reshape(bh * nb, w, cols);
        SDVariable out;
        if (g > 0) {
            SDVariable pg = sd.slice(probs, new int[]{0, 0, 0}, (int) (bh * nb), (int) w, (int) g);
            SDVariable pw = sd.slice(probs, new int[]{0, 0, (int) g}, (int) (bh * nb), (int) w, (int) (3 * w));
            out = sd.mmul(pw, vw).reshape(bh, np, d).add(sd.mmul(pg.reshape(bh, np, g), vg));
        } else {
            out = sd.mmul(probs, vw).reshape(bh, np, d);
        }
        if (np > n) {
            out = sd.slice(out, new int[]{0, 0, 0}, (int) bh, (int) n, (int) d);
        }
        out = fromHeads(out, b, n, h, d).mul(masks.localRows());

        if (g > 0) {
            SDVariable sel = masks.globalSelect();
            SDVariable hg = sd.mmul(sel, hidden).reshape(b * g, e);
            SDVariable qg = toHeads(GraphOps.linear(hg, weights.queryGlobalW(), weights.queryGlobalB()).mul(scale),
                    b, g, h, d);
            SDVariable kAll = toHeads(GraphOps.linear(x2, weights.keyGlobalW(), weights.keyGlobalB()), b, n, h, d);
            SDVariable vAll = toHeads(GraphOps.linear(x2, weights.valueGlobalW(), weights.valueGlobalB()), b, n, h, d);
            long[] shape4 = {b, h, g, n};
            SDVariable gs = sd.mmul(qg, kAll, false, true, false).reshape(shape4).add(masks.globalKeyBias());
            SDVariable gp = GraphOps.softmax(gs, 3);
            if (probsHook != null) {
                gp = probsHook.apply(gp, "global_probs", shape4);
            }
            gp = gp.reshape(bh, g, n);
            SDVariable gout = fromHeads(sd.mmul(gp, vAll), b, g, h, d); // [b, g, e]
            out = out.add(sd.mmul(sel, gout, true, false, false));
        }
        return out;
    }

    private static SDVariable zeros(SameDiff sd, DataType dtype, long... shape) {
        return sd.constant(Nd4j.zeros(dtype, shape));
    }

    /** [bh, np + 2w, d] padded keys -> [bh*nb, 3w, d]: for each block, the previous, own and next block. */
    private static SDVariable windows(SameDiff sd, SDVariable padded, long bh, long nb, long w, long np, long d) {
        SDVariable[] parts = new SDVariable[3];
        for (int s = 0; s < 3; s++) {
            parts[s] = sd.slice(padded, new int[]{0, (int) (s * w), 0}, (int) bh, (int) np, (int) d)
                    .reshape(bh * nb, w, d);
        }
        return sd.concat(1, parts);
    }

    /** [b*n, h*d] -> [b*h, n, d]. */
    private static SDVariable toHeads(SDVariable x, long b, long n, long h, long d) {
        return x.reshape(b, n, h, d).permute(0, 2, 1, 3).reshape(b * h, n, d);
    }

    /** [b*h, n, d] -> [b, n, h*d]. */
    private static SDVariable fromHeads(SDVariable x, long b, long n, long h, long d) {
        return x.reshape(b, h, n, d).permute(0, 2, 1, 3).reshape(b, n, h * d);
    }
}
