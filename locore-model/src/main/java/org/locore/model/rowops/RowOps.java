package org.locore.model.rowops;

/**
 * The element-wise steps of the eager executors ({@code VitExecutor}, {@code LongformerExecutor}) on one row
 * segment of a {@code float[]} (the executors copy rows of native ND4J buffers in and out): the softmax's
 * exponentials, LayerNorm, bias + exact GELU and the (layer-scaled) residual; for the training pass
 * ({@code LongformerBackprop}) also the backward of LayerNorm, GELU and softmax.
 * Two implementations compute the same formulas: {@link VectorRowOps} with the JDK's Vector API (SIMD; needs
 * {@code --add-modules jdk.incubator.vector}) and {@link ScalarRowOps} in plain Java, chosen by {@link #best()}.
 */
public interface RowOps {
    /**
     * Whether the running JVM resolved {@code jdk.incubator.vector} ({@code --add-modules jdk.incubator.vector});
     * checked without loading any Vector API class.
     */
    boolean VECTOR_API = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /** {@code 1 / sqrt(2)}. */
    double SQRT_HALF = 0.7071067811865476;

    /** {@code 1 / sqrt(2 pi)}. */
    double INV_SQRT_2PI = 0.3989422804014327;

    /**
     * The unnormalised softmax of {@code r[off, off + n)} in place: {@code r = exp(r - max(r))}; returns the sum of
     * the new values (dividing by it completes the softmax).
     */
    float expShifted(float[] r, int off, int n);

    /**
     * {@link #expShifted(float[], int, int)} on {@code n} floats of a native-order buffer starting at byte
     * {@code byteOff} (used on the attention scores directly: saves copying them in and out).
     */
    float expShifted(java.nio.ByteBuffer buf, int byteOff, int n);

    /**
     * The unnormalised softmax of one row held in two segments of native-order buffers, each with its bias added
     * first: {@code a[i] += biasA[aBias + i]} ({@code i < na}, a starting at byte {@code aByteOff}), the same for b,
     * then both {@code = exp(v - max)} over the max of both segments (flushed as {@link #expShifted}); returns the
     * sum. The Longformer's window rows: a row's scores against the global keys and its band of window scores, read
     * and written in place in the GEMMs' outputs.
     */
    float expShiftedWithBias(java.nio.ByteBuffer a, int aByteOff, int na, float[] biasA, int aBias,
                             java.nio.ByteBuffer b, int bByteOff, int nb, float[] biasB, int bBias);

    /**
     * LayerNorm of {@code x[off, off + n)} into {@code out[off, off + n)} (may be the same array): centred, biased
     * variance, {@code (x - mean) / sqrt(var + eps) * w + b}, with {@code w, b} indexed from 0.
     */
    void layerNorm(float[] x, float[] out, int off, int n, float[] w, float[] b, float eps);

    /** {@code r = gelu(r + b)} over {@code r[off, off + n)} with {@code b} indexed from 0; exact (erf) GELU. */
    void biasGelu(float[] r, int off, int n, float[] b);

    /**
     * {@code x += g * (a + b)} over {@code [off, off + n)} of {@code x} and {@code a}, {@code b, g} indexed from 0;
     * {@code g == null} means 1.
     */
    void residual(float[] x, float[] a, int off, int n, float[] b, float[] g);

    /** {@code r[off, off + n) *= f}. */
    void scale(float[] r, int off, int n, float f);

    /** {@code dst[dOff + i] = src[sOff + i] + b[bOff + i]} for {@code i < n}. */
    void addBias(float[] src, int sOff, float[] dst, int dOff, int n, float[] b, int bOff);

    /**
     * The LayerNorm backward of one row: with {@code z[off, off + n)} the LayerNorm's input (its mean and
     * {@code rstd = 1 / sqrt(var + eps)} recomputed as in {@link #layerNorm}), {@code xhat = (z - mean) rstd},
     * {@code dy} the output gradient and {@code g = dy * gamma}, writes
     * {@code dz = rstd (g - mean(g) - xhat mean(g xhat))} into {@code dz[off, off + n)} (may be {@code dy}) and adds
     * {@code dy * xhat} to {@code dGamma} and {@code dy} to {@code dBeta} ({@code gamma, dGamma, dBeta} indexed
     * from 0).
     */
    void layerNormBackward(float[] z, float[] dy, float[] dz, int off, int n, float[] gamma, float eps,
                           float[] dGamma, float[] dBeta);

    /**
     * {@code r *= gelu'(u)} over {@code [off, off + n)} of both, the exact GELU's derivative
     * {@code Phi(u) + u phi(u)} (normal distribution function and density).
     */
    void geluGrad(float[] u, float[] r, int off, int n);

    /**
     * Both {@code f = gelu(u)} (as {@link #biasGelu} with a zero bias) and {@code g = gelu'(u)} (as
     * {@link #geluGrad} multiplies by) over {@code [off, off + n)}, sharing the erfc evaluation.
     */
    void geluAndGrad(float[] u, float[] f, float[] g, int off, int n);

    /** The softmax backward on one row: {@code dp = p (dp - t)} over {@code [off, off + n)} of both. */
    void softmaxBackward(float[] p, float[] dp, int off, int n, float t);

    /** {@code r[off + i] *= m[mOff + i]} for {@code i < n}. */
    void multiply(float[] r, int off, float[] m, int mOff, int n);

    /** {@code sum a[aOff + i] b[bOff + i]} over {@code i < n}. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code acc[i] += r[off + i]} for {@code i < n} (column sums, row by row). */
    void accumulate(float[] acc, float[] r, int off, int n);

    /** The SIMD implementation when the Vector API module is present, else the scalar one. */
    static RowOps best() {
        return VECTOR_API ? VectorRowOps.create() : new ScalarRowOps();
    }

    /**
     * Softmax exponentials {@code exp(s - max)} are exactly 0 once {@code round((s - max) log2 e) <= -92}, i.e. for
     * arguments below {@link #SOFTMAX_FLUSH} (about -63.42): they are below 1e-27, far under a float ulp of the row
     * sum (at least 1, the maximum's term), so the softmax does not change, but kept they would make the attention's
     * value GEMMs multiply into subnormal floats, which is many times slower. (The SIMD exponential flushes by
     * building a zero power of two, {@code VectorRowOps#exp(FloatVector, int)}; hence a power-of-two threshold.)
     */
    int SOFTMAX_FLUSH_EXPONENT = 92;

    /** The argument below which softmax exponentials are 0: {@code (1/2 - }{@link #SOFTMAX_FLUSH_EXPONENT}{@code ) ln 2}. */
    float SOFTMAX_FLUSH = (float) ((0.5 - SOFTMAX_FLUSH_EXPONENT) * Math.log(2));

    /**
     * The GELU's tail exponentials (in {@code erfc(|x| / sqrt 2)} and the normal density) are exactly 0 once
     * {@code round(arg log2 e) <= -115}, i.e. for arguments below {@link #GELU_TAIL_FLUSH} (about -79.37): the term is
     * then below 1e-34 (the GELU of {@code x < -12.5} is {@code -0} instead of a value under 1e-34), and computed it
     * would pass through subnormal floats, which is many times slower.
     */
    int GELU_TAIL_FLUSH_EXPONENT = 115;

    /** The argument below which the GELU's tail exponentials are 0: {@code (1/2 - 115) ln 2}. */
    float GELU_TAIL_FLUSH = (float) ((0.5 - GELU_TAIL_FLUSH_EXPONENT) * Math.log(2));

    /** {@code exp(d)}, or 0 when {@code d < limit} (one of the flush limits above). */
    static double expFlushed(double d, float limit) {
        return d < limit ? 0 : Math.exp(d);
    }

    /**
     * {@code 1 - erf(z)} for {@code z >= 0} without the exponential: {@code erfc(z) = t exp(-z^2 + P(t))} with
     * {@code t = 1 / (1 + z / 2)} (Numerical Recipes' {@code erfcc}, fractional error below 1.2e-7 for all z);
     * this returns {@code P(t) - z^2 - 1.26551223}'s exponent argument. Shared so that both implementations
     * evaluate the same polynomial.
     */
    static double erfcExponent(double z, double t) {
        return -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
                + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    }
}
