package org.locore.model.rowops;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The row kernels: the scalar GELU against the graph's erf formula and known values, and the SIMD implementation
 * against the scalar one on rows whose lengths are not multiples of the vector width.
 */
class RowOpsTest {
    @Test
    void scalarGeluIsTheExactErfGelu() {
        assertEquals(0.8413447460685429, ScalarRowOps.gelu(1f), 1e-7);
        assertEquals(-0.15865525393145707, ScalarRowOps.gelu(-1f), 1e-7);
        assertEquals(1.9544997361036416, ScalarRowOps.gelu(2f), 1e-7);
        assertEquals(-0.0040496977, ScalarRowOps.gelu(-3f), 1e-8);
        assertEquals(0.0, ScalarRowOps.gelu(0f), 0.0);
        // against ND4J's erf, as in the graph: x (erf(x / sqrt 2) + 1) / 2
        int n = 4001;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -10f + i * 0.005f;
        }
        INDArray e = Nd4j.createFromArray(x).castTo(DataType.DOUBLE).muli(RowOps.SQRT_HALF);
        Nd4j.exec(new Erf(e, e));
        for (int i = 0; i < n; i++) {
            double ref = x[i] * (e.getDouble(i) + 1) * 0.5;
            assertEquals(ref, ScalarRowOps.gelu(x[i]), 2e-7 * Math.max(1, Math.abs(x[i])), "gelu(" + x[i] + ")");
        }
    }

    @Test
    void vectorExpIsAccurate() {
        Assumptions.assumeTrue(RowOps.VECTOR_API, "jdk.incubator.vector not enabled");
        // from just above the flush to zero (n = round(x log2 e) <= -126, below about -86.99) to 10
        float[] x = new float[64000];
        for (int i = 0; i < x.length; i++) {
            x[i] = -86.9f + i * (86.9f + 10f) / x.length;
        }
        float[] e = VectorExpProbe.exp(x);
        for (int i = 0; i < x.length; i++) {
            double ref = Math.exp(x[i]);
            assertEquals(ref, e[i], 2e-7 * ref, "exp(" + x[i] + ")");
        }
    }

    @Test
    void vectorExpUnderflowsToExactZero() {
        Assumptions.assumeTrue(RowOps.VECTOR_API, "jdk.incubator.vector not enabled");
        float[] x = new float[64];
        for (int i = 0; i < x.length; i++) {
            x[i] = i % 2 == 0 ? -1e9f - i : -87.31f - i;
        }
        float[] e = VectorExpProbe.exp(x);
        for (int i = 0; i < x.length; i++) {
            assertEquals(0f, e[i], 0f, "exp(" + x[i] + ")");
        }
        float[] row = new float[40];
        row[5] = 2f;
        for (int i = 0; i < row.length; i++) {
            if (i != 5) row[i] = -1e9f;
        }
        assertEquals(1f, RowOps.best().expShifted(row, 0, row.length), 0f, "masked entries add nothing");
        for (int i = 0; i < row.length; i++) {
            assertEquals(i == 5 ? 1f : 0f, row[i], 0f, "softmax numerator " + i);
        }
    }

    /**
     * The flushes that keep subnormal floats out of the hot loops: softmax terms below about {@code exp(-63.42)} and the
     * GELU's tail terms below about {@code exp(-79.37)} are exactly 0 (in both implementations), terms just above are kept,
     * and no GELU, GELU derivative or softmax numerator is ever subnormal.
     */
    @Test
    void tinyExponentialsAreFlushedNotSubnormal() {
        java.util.List<RowOps> impls = new java.util.ArrayList<>(java.util.List.of(new ScalarRowOps()));
        if (RowOps.VECTOR_API) {
            impls.add(RowOps.best());
        }
        for (RowOps ops : impls) {
            String name = ops.getClass().getSimpleName();
            // softmax: offsets from the maximum of 0, -63.2 (kept), -63.7 and -80 (flushed: the limit is about -63.42),
            // over several vectors' width and a tail
            assertEquals(-63.4230, RowOps.SOFTMAX_FLUSH, 1e-4);
            float[] row = new float[67];
            for (int i = 0; i < row.length; i++) {
                row[i] = 5f - new float[]{0f, 63.2f, 63.7f, 80f}[i % 4];
            }
            float kept = (float) Math.exp(row[1] - row[0]);
            float sum = ops.expShifted(row, 0, row.length);
            for (int i = 0; i < row.length; i++) {
                float want = new float[]{1f, kept, 0f, 0f}[i % 4];
                assertEquals(want, row[i], 2e-7 * want, name + " softmax numerator " + i);
            }
            assertEquals(17f, sum, 1e-6f, name + " softmax sum");
            // GELU and its derivative over the far negative tail: exact zeros or normal floats, never subnormal
            int n = 4000;
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = -40f + i * 0.01f;
            }
            float[] f = new float[n];
            float[] g = new float[n];
            ops.geluAndGrad(x, f, g, 0, n);
            float[] b = x.clone();
            ops.biasGelu(b, 0, n, new float[n]);
            for (int i = 0; i < n; i++) {
                for (float v : new float[]{f[i], g[i], b[i]}) {
                    assertEquals(true, v == 0f || Math.abs(v) >= Float.MIN_NORMAL,
                            name + " subnormal GELU value " + v + " at x = " + x[i]);
                }
                if (x[i] < -13f) {
                    assertEquals(0f, b[i], 0f, name + " gelu(" + x[i] + ") flushed");
                }
                if (x[i] > -12f) {
                    // kept: x Phi(x) = x erfc(-x / sqrt 2) / 2 within float precision (its exponent x^2 / 2 ~ 72 in
                    // float carries a relative error up to 72 * 2^-24 ~ 4e-6 into the result)
                    double ref = -0.5 * Math.abs(x[i]) * erfcDouble(Math.abs(x[i]) / Math.sqrt(2));
                    assertEquals(ref, b[i], 1e-5 * Math.abs(ref) + 1e-30, name + " gelu(" + x[i] + ") kept");
                }
            }
        }
    }

    /**
     * The two-segment softmax with biases, in place in native buffers (the Longformer's window rows): the same as
     * {@link RowOps#expShifted(float[], int, int)} on the biased concatenation, masked (-1e9 bias) entries exactly 0,
     * for both implementations and segment lengths around the vector width (an empty first segment included).
     */
    @Test
    void expShiftedWithBiasIsTheSoftmaxOfTheBiasedConcatenation() {
        java.util.List<RowOps> impls = new java.util.ArrayList<>(java.util.List.of(new ScalarRowOps()));
        if (RowOps.VECTOR_API) {
            impls.add(RowOps.best());
        }
        Random r = new Random(11);
        for (RowOps ops : impls) {
            for (int[] lens : new int[][]{{0, 513}, {7, 1}, {150, 513}, {16, 33}, {5120, 0}}) {
                int na = lens[0];
                int nb = lens[1];
                int aOff = 3;
                int bOff = 5;
                float[] a = new float[aOff + na];
                float[] b = new float[bOff + nb];
                float[] biasA = new float[2 + na];
                float[] biasB = new float[4 + nb];
                for (int i = 0; i < na; i++) {
                    a[aOff + i] = (float) (r.nextGaussian() * 3);
                    biasA[2 + i] = r.nextInt(5) == 0 ? -1e9f : (float) r.nextGaussian();
                }
                for (int i = 0; i < nb; i++) {
                    b[bOff + i] = (float) (r.nextGaussian() * 3);
                    biasB[4 + i] = r.nextInt(5) == 0 ? -1e9f : (float) r.nextGaussian();
                }
                float[] ref = new float[na + nb];
                for (int i = 0; i < na; i++) {
                    ref[i] = a[aOff + i] + biasA[2 + i];
                }
                for (int i = 0; i < nb; i++) {
                    ref[na + i] = b[bOff + i] + biasB[4 + i];
                }
                float refSum = new ScalarRowOps().expShifted(ref, 0, na + nb);
                java.nio.ByteBuffer ba = floatsBuffer(a);
                java.nio.ByteBuffer bb = floatsBuffer(b);
                float sum = ops.expShiftedWithBias(ba, 4 * aOff, na, biasA, 2, bb, 4 * bOff, nb, biasB, 4);
                String what = ops.getClass().getSimpleName() + " " + na + " + " + nb;
                assertEquals(refSum, sum, 1e-6 * (na + nb), what + " sum");
                for (int i = 0; i < na + nb; i++) {
                    float got = i < na ? ba.getFloat(4 * (aOff + i)) : bb.getFloat(4 * (bOff + i - na));
                    assertEquals(ref[i], got, 1e-6, what + " [" + i + "]");
                    if ((i < na ? biasA[2 + i] : biasB[4 + i - na]) == -1e9f) {
                        assertEquals(0f, got, 0f, what + " masked [" + i + "]");
                    }
                }
                for (int i = 0; i < aOff; i++) {
                    assertEquals(0f, ba.getFloat(4 * i), 0f, what + " untouched before a");
                }
            }
        }
    }

    private static java.nio.ByteBuffer floatsBuffer(float[] x) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect(4 * x.length).order(java.nio.ByteOrder.nativeOrder());
        for (int i = 0; i < x.length; i++) {
            buf.putFloat(4 * i, x[i]);
        }
        return buf;
    }

    /** {@code erfc(z)} for {@code z >= 0} in double by its continued fraction (accurate to 1e-12 for z >= 3). */
    private static double erfcDouble(double z) {
        if (z < 3) {
            INDArray e = Nd4j.createFromArray(z).muli(1.0);
            Nd4j.exec(new Erf(e, e));
            return 1 - e.getDouble(0);
        }
        double frac = 0;
        for (int k = 60; k >= 1; k--) {
            frac = k / 2.0 / (z + frac);
        }
        return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + frac);
    }

    @Test
    void vectorMatchesScalar() {
        Assumptions.assumeTrue(RowOps.VECTOR_API, "jdk.incubator.vector not enabled");
        RowOps v = RowOps.best();
        RowOps s = new ScalarRowOps();
        Random r = new Random(3);
        for (int n : new int[]{1, 7, 16, 33, 200, 2260}) {
            int off = 3;
            float[] row = new float[off + n];
            float[] w = new float[n];
            float[] b = new float[n];
            for (int i = 0; i < n; i++) {
                row[off + i] = (float) (r.nextGaussian() * 4);
                w[i] = (float) r.nextGaussian();
                b[i] = (float) r.nextGaussian();
            }
            float[] a1 = row.clone();
            float[] a2 = row.clone();
            assertEquals(s.expShifted(a1, off, n), v.expShifted(a2, off, n), 1e-5 * n, "exp sum, n " + n);
            assertClose(a1, a2, 1e-6, "exp, n " + n);
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect(4 * (off + n)).order(java.nio.ByteOrder.nativeOrder());
            for (int i = 0; i < off + n; i++) {
                buf.putFloat(4 * i, row[i]);
            }
            java.nio.ByteBuffer buf2 = java.nio.ByteBuffer.allocateDirect(4 * (off + n)).order(java.nio.ByteOrder.nativeOrder());
            buf2.put(buf.duplicate()).clear();
            assertEquals(s.expShifted(buf, 4 * off, n), v.expShifted(buf2, 4 * off, n), 1e-5 * n, "buffer exp sum, n " + n);
            for (int i = 0; i < off + n; i++) {
                assertEquals(a1[i], buf.getFloat(4 * i), 1e-6, "scalar buffer exp [" + i + "]");
                assertEquals(a1[i], buf2.getFloat(4 * i), 1e-6, "vector buffer exp [" + i + "]");
            }
            a1 = row.clone();
            a2 = row.clone();
            s.layerNorm(a1, a1, off, n, w, b, 1e-6f);
            v.layerNorm(a2, a2, off, n, w, b, 1e-6f);
            assertClose(a1, a2, 1e-5, "layerNorm, n " + n);
            a1 = row.clone();
            a2 = row.clone();
            s.biasGelu(a1, off, n, b);
            v.biasGelu(a2, off, n, b);
            assertClose(a1, a2, 1e-6, "gelu, n " + n);
            float[] x1 = row.clone();
            float[] x2 = row.clone();
            float[] add = row.clone();
            s.residual(x1, add, off, n, b, w);
            v.residual(x2, add, off, n, b, w);
            assertClose(x1, x2, 1e-5, "residual, n " + n);
            s.residual(x1, add, off, n, b, null);
            v.residual(x2, add, off, n, b, null);
            assertClose(x1, x2, 1e-5, "residual without scale, n " + n);
            a1 = row.clone();
            a2 = row.clone();
            s.scale(a1, off, n, 0.37f);
            v.scale(a2, off, n, 0.37f);
            assertClose(a1, a2, 0, "scale, n " + n);
            float[] d1 = new float[n + 2];
            float[] d2 = new float[n + 2];
            s.addBias(row, off, d1, 2, n, b, 0);
            v.addBias(row, off, d2, 2, n, b, 0);
            assertClose(d1, d2, 0, "addBias, n " + n);
        }
    }

    @Test
    void scalarGeluDerivativeIsThatOfTheErfGelu() {
        // Phi(x) + x phi(x) against central differences of the double-precision erf GELU
        for (int i = 0; i <= 400; i++) {
            double x = -10 + i * 0.05;
            double h = 1e-5;
            double fd = (geluDouble(x + h) - geluDouble(x - h)) / (2 * h);
            assertEquals(fd, ScalarRowOps.geluDerivative((float) x), 1e-6, "gelu'(" + x + ")");
        }
        assertEquals(0.5, ScalarRowOps.geluDerivative(0f), 1e-7);
        assertEquals(1.0833154705876864, ScalarRowOps.geluDerivative(1f), 1e-6);
        assertEquals(-0.08331547058768642, ScalarRowOps.geluDerivative(-1f), 1e-6);
    }

    private static double geluDouble(double x) {
        INDArray e = Nd4j.scalar(x * RowOps.SQRT_HALF);
        Nd4j.exec(new Erf(e, e));
        return x * (e.getDouble(0) + 1) * 0.5;
    }

    @Test
    void scalarLayerNormBackwardMatchesFiniteDifferences() {
        RowOps s = new ScalarRowOps();
        Random r = new Random(5);
        int n = 37;
        double[] z = new double[n];
        double[] dy = new double[n];
        float[] gamma = new float[n];
        float[] beta = new float[n];
        for (int i = 0; i < n; i++) {
            z[i] = r.nextGaussian() * 2 + 0.5;
            dy[i] = r.nextGaussian();
            gamma[i] = (float) (1 + 0.3 * r.nextGaussian());
            beta[i] = (float) r.nextGaussian();
        }
        float[] zf = new float[n];
        float[] dyf = new float[n];
        for (int i = 0; i < n; i++) {
            zf[i] = (float) z[i];
            dyf[i] = (float) dy[i];
        }
        float[] dz = new float[n];
        float[] dGamma = new float[n];
        float[] dBeta = new float[n];
        s.layerNormBackward(zf, dyf, dz, 0, n, gamma, 1e-5f, dGamma, dBeta);
        double h = 1e-4;
        for (int k = 0; k < n; k++) {
            double[] zp = toDouble(zf);
            double[] zm = toDouble(zf);
            zp[k] += h;
            zm[k] -= h;
            double fd = (lnLoss(zp, dyf, gamma, beta) - lnLoss(zm, dyf, gamma, beta)) / (2 * h);
            assertEquals(fd, dz[k], 1e-4, "dz[" + k + "]");
            double[] xhat = normalized(toDouble(zf));
            assertEquals(dyf[k] * xhat[k], dGamma[k], 1e-5, "dGamma[" + k + "]");
            assertEquals(dyf[k], dBeta[k], 0, "dBeta[" + k + "]");
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    private static double[] normalized(double[] z) {
        double mean = 0;
        for (double v : z) mean += v;
        mean /= z.length;
        double var = 0;
        for (double v : z) var += (v - mean) * (v - mean);
        var /= z.length;
        double rstd = 1 / Math.sqrt(var + 1e-5);
        double[] x = new double[z.length];
        for (int i = 0; i < z.length; i++) x[i] = (z[i] - mean) * rstd;
        return x;
    }

    /** {@code sum(dy * LayerNorm(z))}. */
    private static double lnLoss(double[] z, float[] dy, float[] gamma, float[] beta) {
        double[] x = normalized(z);
        double l = 0;
        for (int i = 0; i < z.length; i++) l += dy[i] * (x[i] * gamma[i] + beta[i]);
        return l;
    }

    @Test
    void vectorBackwardKernelsMatchScalar() {
        Assumptions.assumeTrue(RowOps.VECTOR_API, "jdk.incubator.vector not enabled");
        RowOps v = RowOps.best();
        RowOps s = new ScalarRowOps();
        Random r = new Random(4);
        for (int n : new int[]{1, 7, 16, 33, 200, 918, 3072}) {
            int off = 5;
            float[] row = new float[off + n];
            float[] row2 = new float[off + n];
            float[] w = new float[n];
            for (int i = 0; i < off + n; i++) {
                row[i] = (float) (r.nextGaussian() * 4);
                row2[i] = (float) r.nextGaussian();
            }
            row[off] = 15f; // far tails of the GELU derivative
            if (n > 1) row[off + 1] = -15f;
            for (int i = 0; i < n; i++) w[i] = (float) (1 + 0.3 * r.nextGaussian());
            float[] a1 = row2.clone();
            float[] a2 = row2.clone();
            s.geluGrad(row, a1, off, n);
            v.geluGrad(row, a2, off, n);
            assertClose(a1, a2, 1e-6, "geluGrad, n " + n);
            float[] f1 = new float[off + n];
            float[] f2 = new float[off + n];
            float[] d1 = new float[off + n];
            float[] d2 = new float[off + n];
            s.geluAndGrad(row, f1, d1, off, n);
            v.geluAndGrad(row, f2, d2, off, n);
            assertClose(f1, f2, 1e-6, "geluAndGrad f, n " + n);
            assertClose(d1, d2, 1e-6, "geluAndGrad g, n " + n);
            float[] gelu = row.clone();
            v.biasGelu(gelu, off, n, new float[n]);
            float[] grad = new float[off + n];
            java.util.Arrays.fill(grad, 1f);
            v.geluGrad(row, grad, off, n);
            for (int i = off; i < off + n; i++) {
                assertEquals(gelu[i], f2[i], 0, "geluAndGrad f as biasGelu [" + i + "]");
                assertEquals(grad[i], d2[i], 1e-6, "geluAndGrad g as geluGrad [" + i + "]");
            }
            float[] g1 = new float[n];
            float[] g2 = new float[n];
            float[] b1 = new float[n];
            float[] b2 = new float[n];
            a1 = new float[off + n];
            a2 = new float[off + n];
            s.layerNormBackward(row, row2, a1, off, n, w, 1e-5f, g1, b1);
            v.layerNormBackward(row, row2, a2, off, n, w, 1e-5f, g2, b2);
            assertClose(a1, a2, 1e-5, "layerNormBackward dz, n " + n);
            assertClose(g1, g2, 1e-5, "layerNormBackward dGamma, n " + n);
            assertClose(b1, b2, 0, "layerNormBackward dBeta, n " + n);
            a1 = row2.clone();
            a2 = row2.clone();
            s.softmaxBackward(row, a1, off, n, 0.7f);
            v.softmaxBackward(row, a2, off, n, 0.7f);
            assertClose(a1, a2, 0, "softmaxBackward, n " + n);
            a1 = row2.clone();
            a2 = row2.clone();
            s.multiply(a1, off, row, off, n);
            v.multiply(a2, off, row, off, n);
            assertClose(a1, a2, 0, "multiply, n " + n);
            assertEquals(s.dot(row, off, row2, off, n), v.dot(row, off, row2, off, n), 1e-5 * n, "dot, n " + n);
            g1 = w.clone();
            g2 = w.clone();
            s.accumulate(g1, row, off, n);
            v.accumulate(g2, row, off, n);
            assertClose(g1, g2, 0, "accumulate, n " + n);
        }
    }

    private static void assertClose(float[] a, float[] b, double tol, String what) {
        assertEquals(a.length, b.length, what);
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], tol * Math.max(1, Math.abs(a[i])), what + " [" + i + "]");
        }
    }
}
