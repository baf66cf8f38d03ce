package org.locore.model.longformer;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link BandedAttention} against a plain dense Java implementation of the Longformer attention rules
 * (forward), and its SameDiff gradients against central finite differences in float64.
 */
class BandedAttentionTest {
    private static final String[] PROJ = {"query", "key", "value", "query_global", "key_global", "value_global"};

    /** One random case: sizes, masks and parameters. */
    private static final class Case {
        final int b, n, e, h;
        final int[] windows; // one-sided window per stacked layer
        final int[][] attention, global;
        final double[][][] x;
        final List<Map<String, double[][]>> weights = new ArrayList<>(); // per layer: name -> W [out][in] or b [1][out]
        final double[][][] r; // loss weights
        boolean probsMasks; // multiply attention probabilities by fixed dropout-like masks

        Case(long seed, int b, int n, int e, int h, int[] windows, double padFrac, double globalFrac) {
            Random rnd = new Random(seed);
            this.b = b;
            this.n = n;
            this.e = e;
            this.h = h;
            this.windows = windows;
            attention = new int[b][n];
            global = new int[b][n];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < n; j++) {
                    attention[i][j] = rnd.nextDouble() < padFrac ? 0 : 1;
                    global[i][j] = rnd.nextDouble() < globalFrac ? 1 : 0;
                }
                if (i == 0 && n > 3) {
                    // trailing padding as in real sequences, and a masked token flagged global
                    attention[i][n - 1] = 0;
                    attention[i][n - 2] = 0;
                    global[i][n - 2] = globalFrac > 0 ? 1 : 0;
                }
            }
            x = rand(rnd, b, n, e);
            for (int l = 0; l < windows.length; l++) {
                Map<String, double[][]> m = new HashMap<>();
                for (String p : PROJ) {
                    m.put(p + ".weight", rand(rnd, 1, e, e)[0]);
                    m.put(p + ".bias", rand(rnd, 1, 1, e)[0]);
                }
                weights.add(m);
            }
            r = rand(rnd, b, n, e);
        }

        static double[][][] rand(Random rnd, int a, int c, int d) {
            double[][][] out = new double[a][c][d];
            for (double[][] p : out) for (double[] q : p) for (int i = 0; i < d; i++) q[i] = rnd.nextGaussian() * 0.5;
            return out;
        }
    }

    // ---------------------------------------------------------------- dense reference

    private static double[] lin(double[] x, double[][] w, double[] bias) {
        double[] y = new double[w.length];
        for (int o = 0; o < w.length; o++) {
            double s = bias[o];
            for (int i = 0; i < x.length; i++) s += w[o][i] * x[i];
            y[o] = s;
        }
        return y;
    }

    /** The attention rules written plainly: per token, the list of keys it may see, then a softmax. */
    private static double[][][] dense(double[][][] x, Map<String, double[][]> wt, int[][] att, int[][] glob, int w, int h) {
        int b = x.length, n = x[0].length, e = x[0][0].length, d = e / h;
        double[][][] out = new double[b][n][e];
        for (int r = 0; r < b; r++) {
            double[][][] proj = new double[6][n][];
            for (int p = 0; p < 6; p++) {
                for (int j = 0; j < n; j++) {
                    proj[p][j] = lin(x[r][j], wt.get(PROJ[p] + ".weight"), wt.get(PROJ[p] + ".bias")[0]);
                }
            }
            for (int i = 0; i < n; i++) {
                if (att[r][i] == 0) continue;
                boolean gi = glob[r][i] != 0;
                List<Integer> keys = new ArrayList<>();
                for (int j = 0; j < n; j++) {
                    if (att[r][j] == 0) continue;
                    boolean gj = glob[r][j] != 0;
                    if (gi || gj || Math.abs(i - j) <= w) keys.add(j);
                }
                double[] q = gi ? proj[3][i] : proj[0][i];
                double[][] k = gi ? proj[4] : proj[1];
                double[][] v = gi ? proj[5] : proj[2];
                for (int hh = 0; hh < h; hh++) {
                    double[] s = new double[keys.size()];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t < s.length; t++) {
                        int j = keys.get(t);
                        double dot = 0;
                        for (int c = hh * d; c < (hh + 1) * d; c++) dot += q[c] * k[j][c];
                        s[t] = dot / Math.sqrt(d);
                        max = Math.max(max, s[t]);
                    }
                    double z = 0;
                    for (int t = 0; t < s.length; t++) z += s[t] = Math.exp(s[t] - max);
                    for (int t = 0; t < s.length; t++) {
                        int j = keys.get(t);
                        for (int c = hh * d; c < (hh + 1) * d; c++) out[r][i][c] += s[t] / z * v[j][c];
                    }
                }
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- SameDiff graph

    private static INDArray arr(double[][][] a) {
        return Nd4j.createFromArray(a).castTo(DataType.DOUBLE);
    }

    private static INDArray arr(double[][] a) {
        return Nd4j.createFromArray(a).castTo(DataType.DOUBLE);
    }

    private record Graph(SameDiff sd, Map<String, INDArray> feed, SDVariable out, SDVariable loss) {
    }

    private static Graph build(Case c) {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.var("x", arr(c.x));
        Map<String, INDArray> feed = new HashMap<>();
        SDVariable hcur = x;
        for (int l = 0; l < c.windows.length; l++) {
            Map<String, double[][]> m = c.weights.get(l);
            SDVariable[] v = new SDVariable[12];
            for (int p = 0; p < 6; p++) {
                v[2 * p] = sd.var("l" + l + "." + PROJ[p] + ".weight", arr(m.get(PROJ[p] + ".weight")));
                v[2 * p + 1] = sd.var("l" + l + "." + PROJ[p] + ".bias", arr(m.get(PROJ[p] + ".bias")).reshape(c.e));
            }
            BandedAttention.Weights wts = new BandedAttention.Weights(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                    v[8], v[9], v[10], v[11]);
            BandedAttention.Masks masks = BandedAttention.Masks.of(c.attention, c.global, c.windows[l], -1, DataType.DOUBLE);
            BandedAttention.MaskVariables mv = masks.placeholders(sd, "m" + l, DataType.DOUBLE);
            masks.feed(feed, "m" + l);
            Random maskRnd = new Random(99 + l);
            BandedAttention.ProbsHook hook = !c.probsMasks ? null : (probs, name, shape) -> {
                INDArray mask = Nd4j.zeros(DataType.DOUBLE, shape);
                for (long k = 0; k < mask.length(); k++) {
                    mask.putScalar(k, maskRnd.nextDouble() < 0.3 ? 0.0 : 1 / 0.7);
                }
                return probs.mul(sd.constant(mask));
            };
            hcur = BandedAttention.apply(hcur, wts, mv, masks, c.h, c.e, DataType.DOUBLE, hook);
        }
        SDVariable out = hcur.add("out", 0.0);
        SDVariable loss = out.mul(sd.constant(arr(c.r))).sum("loss");
        sd.setLossVariables(loss);
        return new Graph(sd, feed, out, loss);
    }

    private static void checkForward(Case c) {
        Graph g = build(c);
        INDArray got = g.sd().output(g.feed(), "out").get("out");
        double[][][] ref = c.x;
        for (int l = 0; l < c.windows.length; l++) {
            ref = dense(ref, c.weights.get(l), c.attention, c.global, c.windows[l], c.h);
        }
        INDArray exp = arr(ref);
        assertEquals(List.of(exp.shape()[0], exp.shape()[1], exp.shape()[2]),
                List.of(got.shape()[0], got.shape()[1], got.shape()[2]));
        double diff = exp.sub(got).amaxNumber().doubleValue();
        assertTrue(diff < 1e-10, "forward differs from the dense reference by " + diff);
        // padded tokens produce exactly zero
        for (int r = 0; r < c.b; r++) {
            for (int j = 0; j < c.n; j++) {
                if (c.attention[r][j] == 0) {
                    assertEquals(0.0, got.get(org.nd4j.linalg.indexing.NDArrayIndex.point(r),
                            org.nd4j.linalg.indexing.NDArrayIndex.point(j)).amaxNumber().doubleValue(), 0.0);
                }
            }
        }
    }

    private static void checkGradients(Case c, long seed) {
        Graph g = build(c);
        SameDiff sd = g.sd();
        List<String> names = new ArrayList<>();
        names.add("x");
        for (int l = 0; l < c.windows.length; l++) {
            for (String p : PROJ) {
                names.add("l" + l + "." + p + ".weight");
                names.add("l" + l + "." + p + ".bias");
            }
        }
        Map<String, INDArray> grads = sd.calculateGradients(g.feed(), names);
        Random rnd = new Random(seed);
        double eps = 1e-5;
        int checked = 0;
        for (String name : names) {
            INDArray param = sd.getVariable(name).getArr();
            INDArray grad = grads.get(name);
            if (grad == null) {
                // a parameter the graph does not use (global projections without global tokens): zero gradient,
                // which the finite differences below must confirm
                grad = Nd4j.zeros(DataType.DOUBLE, param.shape());
            }
            // directional derivative along a random dense direction: covers every element of the tensor
            INDArray dir = Nd4j.zeros(DataType.DOUBLE, param.shape());
            for (int k = 0; k < dir.length(); k++) {
                dir.putScalar(k, rnd.nextGaussian() / Math.sqrt(dir.length()));
            }
            INDArray orig = param.dup();
            param.addi(dir.mul(eps));
            double plus = sd.output(g.feed(), "loss").get("loss").getDouble(0);
            param.assign(orig).subi(dir.mul(eps));
            double minus = sd.output(g.feed(), "loss").get("loss").getDouble(0);
            param.assign(orig);
            double numeric = (plus - minus) / (2 * eps);
            double analytic = grad.mul(dir).sumNumber().doubleValue();
            double err = Math.abs(numeric - analytic);
            double rel = err / Math.max(Math.abs(numeric) + Math.abs(analytic), 1e-12);
            if (err > 1e-8 && rel > 1e-6) {
                fail(name + ": directional derivative analytic " + analytic + " vs numeric " + numeric);
            }
            checked++;
        }
        assertTrue(checked > 0);
    }

    @Test
    void forwardOddLengthWithGlobalsAndPadding() {
        Case c = new Case(1, 2, 23, 8, 2, new int[]{4}, 0.15, 0.15);
        checkForward(c);
    }

    @Test
    void forwardWithoutGlobalTokens() {
        // query_global_attention = false and no SEPs: no global token at all
        Case c = new Case(2, 2, 16, 8, 2, new int[]{2}, 0.2, 0.0);
        checkForward(c);
    }

    @Test
    void forwardWindowLongerThanSequence() {
        Case c = new Case(3, 1, 10, 6, 3, new int[]{8}, 0.1, 0.2);
        checkForward(c);
    }

    @Test
    void forwardPerLayerWindows() {
        Case c = new Case(4, 2, 30, 8, 2, new int[]{3, 5}, 0.1, 0.1);
        checkForward(c);
    }

    @Test
    void forwardManyGlobals() {
        Case c = new Case(5, 2, 19, 8, 4, new int[]{2}, 0.1, 0.6);
        checkForward(c);
    }

    @Test
    void gradientsWithGlobalsAndOddLength() {
        checkGradients(new Case(11, 2, 13, 8, 2, new int[]{3}, 0.15, 0.25), 7);
    }

    @Test
    void gradientsThroughProbabilityDropout() {
        Case c = new Case(14, 2, 11, 8, 2, new int[]{3}, 0.1, 0.2);
        c.probsMasks = true;
        checkGradients(c, 10);
    }

    @Test
    void gradientsWithoutGlobals() {
        checkGradients(new Case(12, 1, 12, 6, 2, new int[]{2}, 0.2, 0.0), 8);
    }

    @Test
    void gradientsPerLayerWindows() {
        checkGradients(new Case(13, 2, 16, 8, 2, new int[]{2, 4}, 0.1, 0.2), 9);
    }

    @Test
    void memoryStaysLinearInSequenceLength() {
        // n = 96, w = 4: every intermediate array must be far below one n x n score matrix per head
        Case c = new Case(21, 1, 96, 8, 2, new int[]{4}, 0.05, 0.05);
        Graph g = build(c);
        List<String> all = new ArrayList<>();
        for (var v : g.sd().variables()) {
            if (!v.isPlaceHolder()) all.add(v.name());
        }
        Map<String, INDArray> arrays = g.sd().output(g.feed(), all.toArray(new String[0]));
        long largest = 0;
        for (INDArray a : arrays.values()) {
            largest = Math.max(largest, a.length());
        }
        long globals = java.util.Arrays.stream(c.global[0]).sum();
        // bound: heads * n * (3w + G), the band plus global columns
        long bound = 2L * 96 * (3 * 4 + globals);
        assertTrue(largest <= bound, "largest intermediate " + largest + " > " + bound);
        assertTrue(bound < 2L * 96 * 96);
    }
}
