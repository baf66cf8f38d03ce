package org.locore.model.rowops;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@link RowOps} with the JDK's Vector API ({@code jdk.incubator.vector}, the platform's widest float vectors),
 * about 8x faster than ND4J's generic-build softmax on the {@code T x T} attention scores. Only loaded when the
 * module is present ({@link RowOps#VECTOR_API}); the scalar tails use the same formulas as {@link ScalarRowOps}.
 *
 * <p>Results are bit-for-bit reproducible, whatever the JIT has compiled so far: only lane-wise IEEE operations
 * ({@code +, -, *, /, fma, max}, bit shifts), whose interpreted fall-backs give the same bits as the compiled
 * vector code, and sums over lanes in a fixed order. In particular the exponential is Cephes' {@code expf}
 * polynomial ({@link #exp}, relative error below 1e-7) rather than the vector {@code EXP} operator, whose compiled
 * (SVML) and interpreted forms differ in the last bit: the extraction's outputs must not depend on how warm the
 * JVM was.
 */
public final class VectorRowOps implements RowOps {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private VectorRowOps() {
    }

    /** A new instance; only call when {@link RowOps#VECTOR_API}. The first call warms the kernels up ({@link Warm}). */
    public static RowOps create() {
        Warm.done();
        return new VectorRowOps();
    }

    /**
     * Runs every kernel on a dummy row until the JIT has compiled it, once per JVM, before any real work (about a
     * second). The JIT's vector code depends on the order in which it meets things: compiled in the middle of a
     * ViT forward, the GELU kernel came out about 3x slower (its vector store not intrinsified: 5.6 instead of 1.7
     * ns per element), which warming it up on its own first avoids. Results do not depend on it (see the class
     * comment: same bits interpreted or compiled). Off with the system property {@code locore.rowops.warmup=false}.
     */
    private static final class Warm {
        private static final float[] SINK = new float[1];

        static {
            if (Boolean.parseBoolean(System.getProperty("locore.rowops.warmup", "true"))) {
                run();
            }
        }

        private static void run() {
            long t0 = System.nanoTime();
            int n = 163;
            float[] x = new float[n];
            float[] y = new float[n];
            float[] z = new float[n];
            float[] w = new float[n];
            float[] b = new float[n];
            float[] acc = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = (float) Math.sin(i * 0.37) * 3;
                w[i] = 1f + i % 3 * 0.1f;
                b[i] = (float) Math.cos(i * 0.11) * 0.1f;
            }
            ByteBuffer buf = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder());
            VectorRowOps ops = new VectorRowOps();
            float s = 0;
            for (int it = 0; it < 1500; it++) {
                System.arraycopy(x, 0, y, 0, n);
                s += ops.expShifted(y, 0, n);
                buf.asFloatBuffer().put(x);
                s += ops.expShifted(buf, 0, n);
                buf.asFloatBuffer().put(x);
                s += ops.expShiftedWithBias(buf, 0, 40, b, 0, buf, 160, n - 40, b, 40);
                ops.layerNorm(x, y, 0, n, w, b, 1e-6f);
                System.arraycopy(x, 0, y, 0, n);
                ops.biasGelu(y, 0, n, b);
                ops.residual(z, y, 0, n, b, it % 2 == 0 ? null : w);
                ops.scale(z, 0, n, 0.5f);
                ops.addBias(x, 0, y, 0, n, b, 0);
                ops.geluAndGrad(x, y, z, 0, n);
                ops.geluGrad(x, y, 0, n);
                ops.layerNormBackward(x, y, z, 0, n, w, 1e-6f, acc, acc);
                ops.softmaxBackward(y, z, 0, n, 0.1f);
                ops.multiply(y, 0, w, 0, n);
                s += ops.dot(x, 0, y, 0, n);
                ops.accumulate(acc, z, 0, n);
            }
            SINK[0] = s;
            org.slf4j.LoggerFactory.getLogger(VectorRowOps.class).debug("row kernels warmed up in {} ms",
                    (System.nanoTime() - t0) / 1_000_000);
        }

        static void done() {
            // loading the class ran the warm-up
        }
    }

    @Override
    public float expShifted(float[] r, int off, int n) {
        int end = off + n;
        int ub = off + S.loopBound(n);
        FloatVector m0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        FloatVector m1 = m0;
        FloatVector m2 = m0;
        FloatVector m3 = m0;
        int i = off;
        // four independent maxima: one chain would wait on each step's compare and blend
        for (; i + 4 * L <= ub; i += 4 * L) {
            m0 = max(m0, FloatVector.fromArray(S, r, i));
            m1 = max(m1, FloatVector.fromArray(S, r, i + L));
            m2 = max(m2, FloatVector.fromArray(S, r, i + 2 * L));
            m3 = max(m3, FloatVector.fromArray(S, r, i + 3 * L));
        }
        for (; i < ub; i += L) {
            m0 = max(m0, FloatVector.fromArray(S, r, i));
        }
        float m = m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
        for (; i < end; i++) {
            m = Math.max(m, r[i]);
        }
        FloatVector mm = FloatVector.broadcast(S, m);
        FloatVector sv = FloatVector.zero(S);
        for (i = off; i < ub; i += L) {
            FloatVector e = exp(FloatVector.fromArray(S, r, i).sub(mm), SOFTMAX_FLUSH_EXPONENT);
            e.intoArray(r, i);
            sv = sv.add(e);
        }
        float sum = sum(sv);
        for (; i < end; i++) {
            float e = (float) RowOps.expFlushed(r[i] - m, SOFTMAX_FLUSH);
            r[i] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public float expShifted(ByteBuffer buf, int byteOff, int n) {
        ByteOrder order = buf.order();
        int ub = S.loopBound(n);
        FloatVector m0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        FloatVector m1 = m0;
        FloatVector m2 = m0;
        FloatVector m3 = m0;
        int i = 0;
        for (; i + 4 * L <= ub; i += 4 * L) {
            int o = byteOff + 4 * i;
            m0 = max(m0, FloatVector.fromByteBuffer(S, buf, o, order));
            m1 = max(m1, FloatVector.fromByteBuffer(S, buf, o + 4 * L, order));
            m2 = max(m2, FloatVector.fromByteBuffer(S, buf, o + 8 * L, order));
            m3 = max(m3, FloatVector.fromByteBuffer(S, buf, o + 12 * L, order));
        }
        for (; i < ub; i += L) {
            m0 = max(m0, FloatVector.fromByteBuffer(S, buf, byteOff + 4 * i, order));
        }
        float m = m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            m = Math.max(m, buf.getFloat(byteOff + 4 * i));
        }
        return expInPlace(buf, byteOff, n, m);
    }

    @Override
    public float expShiftedWithBias(ByteBuffer a, int aByteOff, int na, float[] biasA, int aBias,
                                    ByteBuffer b, int bByteOff, int nb, float[] biasB, int bBias) {
        float m = Math.max(addBiasMax(a, aByteOff, na, biasA, aBias), addBiasMax(b, bByteOff, nb, biasB, bBias));
        return expInPlace(a, aByteOff, na, m) + expInPlace(b, bByteOff, nb, m);
    }

    /**
     * {@code buf[i] += bias[bOff + i]} over n floats from byte {@code byteOff}; returns their new maximum (two
     * independent maxima, as in {@link #expShifted(float[], int, int)}: one chain waits on each compare and blend).
     */
    private static float addBiasMax(ByteBuffer buf, int byteOff, int n, float[] bias, int bOff) {
        ByteOrder order = buf.order();
        int ub = S.loopBound(n);
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        FloatVector m1 = mv;
        int i = 0;
        for (; i + 2 * L <= ub; i += 2 * L) {
            int o = byteOff + 4 * i;
            FloatVector v = FloatVector.fromByteBuffer(S, buf, o, order).add(FloatVector.fromArray(S, bias, bOff + i));
            FloatVector v1 = FloatVector.fromByteBuffer(S, buf, o + 4 * L, order)
                    .add(FloatVector.fromArray(S, bias, bOff + i + L));
            v.intoByteBuffer(buf, o, order);
            v1.intoByteBuffer(buf, o + 4 * L, order);
            mv = max(mv, v);
            m1 = max(m1, v1);
        }
        for (; i < ub; i += L) {
            int o = byteOff + 4 * i;
            FloatVector v = FloatVector.fromByteBuffer(S, buf, o, order).add(FloatVector.fromArray(S, bias, bOff + i));
            v.intoByteBuffer(buf, o, order);
            mv = max(mv, v);
        }
        float m = max(mv, m1).reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            float v = buf.getFloat(byteOff + 4 * i) + bias[bOff + i];
            buf.putFloat(byteOff + 4 * i, v);
            m = Math.max(m, v);
        }
        return m;
    }

    /** {@code buf[i] = exp(buf[i] - m)} (flushed) over n floats from byte {@code byteOff}; returns their sum. */
    private static float expInPlace(ByteBuffer buf, int byteOff, int n, float m) {
        ByteOrder order = buf.order();
        int ub = S.loopBound(n);
        FloatVector mm = FloatVector.broadcast(S, m);
        FloatVector sv = FloatVector.zero(S);
        int i = 0;
        for (; i < ub; i += L) {
            int o = byteOff + 4 * i;
            FloatVector e = exp(FloatVector.fromByteBuffer(S, buf, o, order).sub(mm), SOFTMAX_FLUSH_EXPONENT);
            e.intoByteBuffer(buf, o, order);
            sv = sv.add(e);
        }
        float sum = sum(sv);
        for (; i < n; i++) {
            float e = (float) RowOps.expFlushed(buf.getFloat(byteOff + 4 * i) - m, SOFTMAX_FLUSH);
            buf.putFloat(byteOff + 4 * i, e);
            sum += e;
        }
        return sum;
    }

    /** The mean of {@code x[off, off + n)}: lanes summed in order, then the tail. */
    private static float mean(float[] x, int off, int n) {
        int ub = S.loopBound(n);
        FloatVector sv = FloatVector.zero(S);
        int i = 0;
        for (; i < ub; i += L) {
            sv = sv.add(FloatVector.fromArray(S, x, off + i));
        }
        float s = sum(sv);
        for (; i < n; i++) {
            s += x[off + i];
        }
        return s / n;
    }

    /** {@code 1 / sqrt(var + eps)} of {@code x[off, off + n)} with the biased variance around {@code mean}. */
    private static float rstd(float[] x, int off, int n, float mean, float eps) {
        int ub = S.loopBound(n);
        FloatVector mv = FloatVector.broadcast(S, mean);
        FloatVector vv = FloatVector.zero(S);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector c = FloatVector.fromArray(S, x, off + i).sub(mv);
            vv = c.fma(c, vv);
        }
        float v = sum(vv);
        for (; i < n; i++) {
            float c = x[off + i] - mean;
            v += c * c;
        }
        return (float) (1.0 / Math.sqrt(v / n + eps));
    }

    @Override
    public void layerNorm(float[] x, float[] out, int off, int n, float[] w, float[] b, float eps) {
        int ub = S.loopBound(n);
        int i;
        float mean = mean(x, off, n);
        FloatVector mv = FloatVector.broadcast(S, mean);
        float rstd = rstd(x, off, n, mean, eps);
        FloatVector rv = FloatVector.broadcast(S, rstd);
        for (i = 0; i < ub; i += L) {
            FloatVector.fromArray(S, x, off + i).sub(mv).mul(rv).fma(FloatVector.fromArray(S, w, i), FloatVector.fromArray(S, b, i))
                    .intoArray(out, off + i);
        }
        for (; i < n; i++) {
            out[off + i] = (x[off + i] - mean) * rstd * w[i] + b[i];
        }
    }

    @Override
    public void biasGelu(float[] r, int off, int n, float[] b) {
        int ub = S.loopBound(n);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector x = FloatVector.fromArray(S, r, off + i).add(FloatVector.fromArray(S, b, i));
            gelu(x).intoArray(r, off + i);
        }
        for (; i < n; i++) {
            r[off + i] = ScalarRowOps.gelu(r[off + i] + b[i]);
        }
    }

    /** {@link ScalarRowOps#gelu} on a vector (in float). */
    private static FloatVector gelu(FloatVector x) {
        FloatVector z = x.mul((float) SQRT_HALF).abs();
        FloatVector ans = erfc(z);
        return x.blend(0f, x.lt(0f)).sub(x.abs().mul(0.5f).mul(ans));
    }

    /**
     * {@code erfc(z)} for {@code z >= 0} as {@code t exp(P(t) - z^2)}, {@code t = 1 / (1 + z / 2)}
     * ({@link RowOps#erfcExponent}'s polynomial, in float): shared by the GELU and its derivative.
     */
    private static FloatVector erfc(FloatVector z) {
        FloatVector t = FloatVector.broadcast(S, 1f).div(z.mul(0.5f).add(1f));
        FloatVector p = t.mul(0.17087277f).add(-0.82215223f);
        p = p.fma(t, c(1.48851587f));
        p = p.fma(t, c(-1.13520398f));
        p = p.fma(t, c(0.27886807f));
        p = p.fma(t, c(-0.18628806f));
        p = p.fma(t, c(0.09678418f));
        p = p.fma(t, c(0.37409196f));
        p = p.fma(t, c(1.00002368f));
        p = p.fma(t, c(-1.26551223f));
        return t.mul(exp(p.sub(z.mul(z)), GELU_TAIL_FLUSH_EXPONENT));
    }

    /** The lanes' sum, added in lane order. */
    private static float sum(FloatVector v) {
        float[] lanes = v.toArray();
        float s = 0;
        for (float x : lanes) {
            s += x;
        }
        return s;
    }

    /*
     * The exponential's constants are floats broadcast where they are used, not static FloatVector fields: C2 keeps
     * such broadcasts in registers across a loop, but reloads a static vector's payload (a float[]) in every
     * iteration of a loop that stores floats, since the store might alias it.
     */
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2 = 0.69314718056f;
    /** ln 2 in two parts (Cody and Waite): the first exact in few bits, so that {@code n ln2_hi} is exact. */
    private static final float MINUS_LN2_HI = -0.693359375f;
    private static final float MINUS_LN2_LO = 2.12194440e-4f;
    /** {@code 1.5 * 2^23}: adding it rounds to an integer held in the low mantissa bits. */
    private static final float ROUND = 12582912f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    /**
     * {@code exp(x)} for {@code x <= 88} (Cephes {@code expf}: {@code x = n ln 2 + r}, {@code |r| <= ln 2 / 2}, a
     * degree-7 polynomial in r, times {@code 2^n} built in the exponent bits), exactly 0 once {@code n <= -126}
     * (arguments below about -86.99), so never subnormal: masked scores such as {@code -1e9} give exactly 0, as the
     * float exponential does (a tiny non-zero value there would make the attention's value GEMMs multiply into
     * subnormals, which is many times slower).
     */
    static FloatVector exp(FloatVector x) {
        return exp(x, 126);
    }

    /**
     * {@link #exp(FloatVector)}, exactly 0 once {@code n = round(x log2 e) <= -bias} ({@code 1 <= bias <= 126}),
     * i.e. for arguments below about {@code (1/2 - bias) ln 2}: x is clamped at {@code -bias ln 2}, so that
     * {@code n >= -bias}; the power of two is built as {@code 2^(n + bias - 127)}, whose bits are 0 (the float +0)
     * exactly when {@code n = -bias}, then scaled back by the exact {@code 2^(127 - bias)}. The clamp is the only
     * compare and blend: zeroing the flushed lanes with another (instead of the biased exponent) made this kernel
     * about 1.5x slower.
     */
    static FloatVector exp(FloatVector x, int bias) {
        float lo = -bias * LN2;
        x = x.blend(lo, x.lt(lo));
        FloatVector shifted = x.fma(LOG2E, ROUND);
        FloatVector n = shifted.sub(ROUND);
        FloatVector r = n.fma(c(MINUS_LN2_HI), x);
        r = n.fma(c(MINUS_LN2_LO), r);
        FloatVector p = c(P0).fma(r, c(P1)).fma(r, c(P2)).fma(r, c(P3)).fma(r, c(P4)).fma(r, c(P5));
        p = p.fma(r.mul(r), r).add(1f);
        FloatVector scale = ((IntVector) shifted.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 23)
                .add(bias << 23).reinterpretAsFloats();
        return p.mul(scale).mul(Float.intBitsToFloat((254 - bias) << 23));
    }

    /**
     * The lane-wise maximum as a compare and a blend (two instructions; {@code FloatVector.max}, with Java's NaN and
     * signed-zero rules, compiles to six): equal to it for all non-NaN lanes but for the sign of a zero maximum; a
     * NaN in {@code b} is passed over.
     */
    private static FloatVector max(FloatVector a, FloatVector b) {
        return a.blend(b, a.lt(b));
    }

    private static FloatVector c(float v) {
        return FloatVector.broadcast(S, v);
    }

    @Override
    public void residual(float[] x, float[] a, int off, int n, float[] b, float[] g) {
        int ub = S.loopBound(n);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, off + i).add(FloatVector.fromArray(S, b, i));
            FloatVector xv = FloatVector.fromArray(S, x, off + i);
            (g == null ? xv.add(v) : v.fma(FloatVector.fromArray(S, g, i), xv)).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            float v = a[off + i] + b[i];
            x[off + i] += g == null ? v : g[i] * v;
        }
    }

    @Override
    public void scale(float[] r, int off, int n, float f) {
        int ub = off + S.loopBound(n);
        int i = off;
        for (; i < ub; i += L) {
            FloatVector.fromArray(S, r, i).mul(f).intoArray(r, i);
        }
        for (; i < off + n; i++) {
            r[i] *= f;
        }
    }

    @Override
    public void addBias(float[] src, int sOff, float[] dst, int dOff, int n, float[] b, int bOff) {
        int ub = S.loopBound(n);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector.fromArray(S, src, sOff + i).add(FloatVector.fromArray(S, b, bOff + i)).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] = src[sOff + i] + b[bOff + i];
        }
    }

    @Override
    public void layerNormBackward(float[] z, float[] dy, float[] dz, int off, int n, float[] gamma, float eps,
                                  float[] dGamma, float[] dBeta) {
        int ub = S.loopBound(n);
        int i;
        float mean = mean(z, off, n);
        FloatVector mv = FloatVector.broadcast(S, mean);
        float rstd = rstd(z, off, n, mean, eps);
        FloatVector rv = FloatVector.broadcast(S, rstd);
        FloatVector s1v = FloatVector.zero(S);
        FloatVector s2v = FloatVector.zero(S);
        for (i = 0; i < ub; i += L) {
            FloatVector xhat = FloatVector.fromArray(S, z, off + i).sub(mv).mul(rv);
            FloatVector d = FloatVector.fromArray(S, dy, off + i);
            FloatVector g = d.mul(FloatVector.fromArray(S, gamma, i));
            s1v = s1v.add(g);
            s2v = g.fma(xhat, s2v);
            d.fma(xhat, FloatVector.fromArray(S, dGamma, i)).intoArray(dGamma, i);
            d.add(FloatVector.fromArray(S, dBeta, i)).intoArray(dBeta, i);
        }
        float s1 = sum(s1v);
        float s2 = sum(s2v);
        for (; i < n; i++) {
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
        FloatVector m1v = FloatVector.broadcast(S, m1);
        FloatVector m2v = FloatVector.broadcast(S, m2);
        for (i = 0; i < ub; i += L) {
            FloatVector xhat = FloatVector.fromArray(S, z, off + i).sub(mv).mul(rv);
            FloatVector g = FloatVector.fromArray(S, dy, off + i).mul(FloatVector.fromArray(S, gamma, i));
            g.sub(m1v).sub(xhat.mul(m2v)).mul(rv).intoArray(dz, off + i);
        }
        for (; i < n; i++) {
            float xhat = (z[off + i] - mean) * rstd;
            float g = dy[off + i] * gamma[i];
            dz[off + i] = rstd * (g - m1 - xhat * m2);
        }
    }

    @Override
    public void geluGrad(float[] u, float[] r, int off, int n) {
        int ub = S.loopBound(n);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector x = FloatVector.fromArray(S, u, off + i);
            FloatVector.fromArray(S, r, off + i).mul(geluDerivative(x)).intoArray(r, off + i);
        }
        for (; i < n; i++) {
            r[off + i] *= ScalarRowOps.geluDerivative(u[off + i]);
        }
    }

    @Override
    public void geluAndGrad(float[] u, float[] f, float[] g, int off, int n) {
        int ub = S.loopBound(n);
        int i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (; i < ub; i += L) {
            FloatVector x = FloatVector.fromArray(S, u, off + i);
            FloatVector z = x.mul((float) SQRT_HALF).abs();
            FloatVector z2 = z.mul(z);
            FloatVector ans = erfc(z);
            // as gelu(): max(x, 0) - |x| erfc / 2; as geluDerivative(): cdf + x phi(x)
            x.blend(0f, x.lt(0f)).sub(x.abs().mul(0.5f).mul(ans)).intoArray(f, off + i);
            FloatVector half = ans.mul(0.5f);
            FloatVector cdf = one.sub(half).blend(half, x.lt(0f));
            x.mul(exp(z2.neg(), GELU_TAIL_FLUSH_EXPONENT)).mul((float) INV_SQRT_2PI).add(cdf).intoArray(g, off + i);
        }
        for (; i < n; i++) {
            f[off + i] = ScalarRowOps.gelu(u[off + i]);
            g[off + i] = ScalarRowOps.geluDerivative(u[off + i]);
        }
    }

    /** {@link ScalarRowOps#geluDerivative} on a vector (in float). */
    private static FloatVector geluDerivative(FloatVector x) {
        FloatVector z = x.mul((float) SQRT_HALF).abs();
        FloatVector z2 = z.mul(z);
        FloatVector half = erfc(z).mul(0.5f);
        FloatVector cdf = FloatVector.broadcast(S, 1f).sub(half).blend(half, x.lt(0f));
        // phi(x) = exp(-x^2 / 2) / sqrt(2 pi) = exp(-z^2) / sqrt(2 pi)
        return x.mul(exp(z2.neg(), GELU_TAIL_FLUSH_EXPONENT)).mul((float) INV_SQRT_2PI).add(cdf);
    }

    @Override
    public void softmaxBackward(float[] p, float[] dp, int off, int n, float t) {
        int ub = S.loopBound(n);
        FloatVector tv = FloatVector.broadcast(S, t);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector.fromArray(S, dp, off + i).sub(tv).mul(FloatVector.fromArray(S, p, off + i))
                    .intoArray(dp, off + i);
        }
        for (; i < n; i++) {
            dp[off + i] = p[off + i] * (dp[off + i] - t);
        }
    }

    @Override
    public void multiply(float[] r, int off, float[] m, int mOff, int n) {
        int ub = S.loopBound(n);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector.fromArray(S, r, off + i).mul(FloatVector.fromArray(S, m, mOff + i)).intoArray(r, off + i);
        }
        for (; i < n; i++) {
            r[off + i] *= m[mOff + i];
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int ub = S.loopBound(n);
        FloatVector sv = FloatVector.zero(S);
        int i = 0;
        for (; i < ub; i += L) {
            sv = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), sv);
        }
        float s = sum(sv);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void accumulate(float[] acc, float[] r, int off, int n) {
        int ub = S.loopBound(n);
        int i = 0;
        for (; i < ub; i += L) {
            FloatVector.fromArray(S, acc, i).add(FloatVector.fromArray(S, r, off + i)).intoArray(acc, i);
        }
        for (; i < n; i++) {
            acc[i] += r[off + i];
        }
    }
}
