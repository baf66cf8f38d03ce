package org.locore.model.rowops;

/** {@link RowOps} in plain Java (the fallback when the Vector API module is absent, and the tests' reference). */
public final class ScalarRowOps implements RowOps {
    @Override
    public float expShifted(float[] r, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = off; i < off + n; i++) {
            m = Math.max(m, r[i]);
        }
        float sum = 0;
        for (int i = off; i < off + n; i++) {
            float e = (float) RowOps.expFlushed(r[i] - m, SOFTMAX_FLUSH);
            r[i] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public float expShifted(java.nio.ByteBuffer buf, int byteOff, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, buf.getFloat(byteOff + 4 * i));
        }
        return expInPlace(buf, byteOff, n, m);
    }

    @Override
    public float expShiftedWithBias(java.nio.ByteBuffer a, int aByteOff, int na, float[] biasA, int aBias,
                                    java.nio.ByteBuffer b, int bByteOff, int nb, float[] biasB, int bBias) {
        float m = Math.max(addBiasMax(a, aByteOff, na, biasA, aBias), addBiasMax(b, bByteOff, nb, biasB, bBias));
        return expInPlace(a, aByteOff, na, m) + expInPlace(b, bByteOff, nb, m);
    }

    /** {@code buf[i] += bias[bOff + i]} over n floats from byte {@code byteOff}; returns their new maximum. */
    private static float addBiasMax(java.nio.ByteBuffer buf, int byteOff, int n, float[] bias, int bOff) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float v = buf.getFloat(byteOff + 4 * i) + bias[bOff + i];
            buf.putFloat(byteOff + 4 * i, v);
            m = Math.max(m, v);
        }
        return m;
    }

    /** {@code buf[i] = exp(buf[i] - m)} (flushed) over n floats from byte {@code byteOff}; returns their sum. */
    private static float expInPlace(java.nio.ByteBuffer buf, int byteOff, int n, float m) {
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) RowOps.expFlushed(buf.getFloat(byteOff + 4 * i) - m, SOFTMAX_FLUSH);
            buf.putFloat(byteOff + 4 * i, e);
            sum += e;
        }
        return sum;
    }

    /** The mean of {@code x[off, off + n)} (summed in order). */
    private static float mean(float[] x, int off, int n) {
        float s = 0;
        for (int i = off; i < off + n; i++) {
            s += x[i];
        }
        return s / n;
    }

    /** {@code 1 / sqrt(var + eps)} of {@code x[off, off + n)} with the biased variance around {@code mean}. */
    private static float rstd(float[] x, int off, int n, float mean, float eps) {
        float v = 0;
        for (int i = off; i < off + n; i++) {
            float c = x[i] - mean;
            v += c * c;
        }
        return (float) (1.0 / Math.sqrt(v / n + eps));
    }

    @Override
    public void layerNorm(float[] x, float[] out, int off, int n, float[] w, float[] b, float eps) {
        float mean = mean(x, off, n);
        float rstd = rstd(x, off, n, mean, eps);
        for (int i = 0; i < n; i++) {
            out[off + i] = (x[off + i] - mean) * rstd * w[i] + b[i];
        }
    }

    @Override
    public void biasGelu(float[] r, int off, int n, float[] b) {
        for (int i = 0; i < n; i++) {
            r[off + i] = gelu(r[off + i] + b[i]);
        }
    }

    /**
     * {@code x Phi(x) = x erfc(-x / sqrt 2) / 2}, with erfc from {@link RowOps#erfcExponent} (relative error about
     * 1e-7 everywhere, also in the far negative tail); as {@code max(x, 0) - |x| erfc(|x| / sqrt 2) / 2}, which is
     * the same for both signs since {@code erfc(-z) = 2 - erfc(z)}.
     */
    public static float gelu(float x) {
        double z = Math.abs(x * SQRT_HALF);
        double t = 1.0 / (1.0 + 0.5 * z);
        double ans = t * RowOps.expFlushed(RowOps.erfcExponent(z, t), GELU_TAIL_FLUSH); // erfc(|x| / sqrt 2)
        return (float) (Math.max(x, 0.0) - 0.5 * Math.abs(x) * ans);
    }

    @Override
    public void residual(float[] x, float[] a, int off, int n, float[] b, float[] g) {
        for (int i = 0; i < n; i++) {
            float v = a[off + i] + b[i];
            x[off + i] += g == null ? v : g[i] * v;
        }
    }

    @Override
    public void scale(float[] r, int off, int n, float f) {
        for (int i = off; i < off + n; i++) {
            r[i] *= f;
        }
    }

    @Override
    public void addBias(float[] src, int sOff, float[] dst, int dOff, int n, float[] b, int bOff) {
        for (int i = 0; i < n; i++) {
            dst[dOff + i] = src[sOff + i] + b[bOff + i];
        }
    }

    @Override
    public void layerNormBackward(float[] z, float[] dy, float[] dz, int off, int n, float[] gamma, float eps,
                                  float[] dGamma, float[] dBeta) {
        float mean = mean(z, off, n);
        float rstd = rstd(z, off, n, mean, eps);
        float s1 = 0;
        float s2 = 0;
        for (int i = 0; i < n; i++) {
            float xhat = (z[off + i] - mean) * rstd;
            float d = dy[off + i];
            float g = d * gamma[i];
            s1 += g;
            s2 += g * xhat;
            dGamma[i] += d * xhat;
            dBeta[i] += d;
        }
        float m1 = s1 / n;
        float m2 = s2 / n;
        for (int i = 0; i < n; i++) {
            float xhat = (z[off + i] - mean) * rstd;
            float g = dy[off + i] * gamma[i];
            dz[off + i] = rstd * (g - m1 - xhat * m2);
        }
    }

    @Override
    public void geluGrad(float[] u, float[] r, int off, int n) {
        for (int i = off; i < off + n; i++) {
            r[i] *= geluDerivative(u[i]);
        }
    }

    /**
     * {@code Phi(x) + x phi(x)}, the exact GELU's derivative, with {@code Phi(x) = erfc(-x / sqrt 2) / 2} from
     * {@link RowOps#erfcExponent} (as {@link #gelu}).
     */
    public static float geluDerivative(float x) {
        double z = Math.abs(x * SQRT_HALF);
        double t = 1.0 / (1.0 + 0.5 * z);
        double half = 0.5 * t * RowOps.expFlushed(RowOps.erfcExponent(z, t), GELU_TAIL_FLUSH); // erfc(|x| / sqrt 2) / 2
        double cdf = x >= 0 ? 1 - half : half;
        return (float) (cdf + x * RowOps.expFlushed(-0.5 * x * x, GELU_TAIL_FLUSH) * INV_SQRT_2PI);
    }

    @Override
    public void geluAndGrad(float[] u, float[] f, float[] g, int off, int n) {
        for (int i = off; i < off + n; i++) {
            float x = u[i];
            f[i] = gelu(x);
            g[i] = geluDerivative(x);
        }
    }

    @Override
    public void softmaxBackward(float[] p, float[] dp, int off, int n, float t) {
        for (int i = off; i < off + n; i++) {
            dp[i] = p[i] * (dp[i] - t);
        }
    }

    @Override
    public void multiply(float[] r, int off, float[] m, int mOff, int n) {
        for (int i = 0; i < n; i++) {
            r[off + i] *= m[mOff + i];
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void accumulate(float[] acc, float[] r, int off, int n) {
        for (int i = 0; i < n; i++) {
            acc[i] += r[off + i];
        }
    }
}
