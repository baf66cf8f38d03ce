package org.locore.model.longformer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

/**
 * The keep/drop decisions of one inverted-dropout site, one bit per element: element {@code i} is dropped when
 * the {@code i}-th {@code rnd.nextDouble()} drawn for the site is below {@code p}, and kept elements are scaled by
 * {@code (float) (1 / (1 - p))}. This is how {@link DropoutMasks} feeds the SameDiff graph and how the eager
 * training pass ({@link LongformerBackprop}) applies dropout, so both see the same masks for the same generator.
 *
 * <p>Drawing: for a plain {@link java.util.Random} (whose algorithm its specification fixes) the generator's
 * state is read back from three {@code nextInt()} values and the same linear congruential sequence is run
 * without the generator's atomic updates (about 6x faster, which matters at LOCORE-base size: 0.9 billion draws
 * per training sequence); afterwards the generator is set to the state it would have after the draws
 * one by one. The values drawn and the generator's later output are identical; only a {@code nextGaussian} value
 * pending in the generator (none when it is used for dropout only) is discarded. Subclasses of {@code Random}
 * are drawn from one value at a time.
 */
public final class DropoutBits {
    private static final long MULTIPLIER = 0x5DEECE66DL;
    private static final long ADDEND = 0xBL;
    private static final long MASK = (1L << 48) - 1;
    /** Draws below which the one-by-one path is used (reading the state costs three draws' worth of work). */
    private static final long FAST_MIN = 64;

    private final long[] kept;
    private final long size;
    private final double p;

    private DropoutBits(long[] kept, long size, double p) {
        this.kept = kept;
        this.size = size;
        this.p = p;
    }

    /**
     * Draws the decisions of {@code size} elements, consuming exactly {@code size} {@code nextDouble()} values of
     * {@code rnd} (as seen by its later output).
     *
     * @param p drop probability in [0, 1)
     */
    public static DropoutBits draw(Random rnd, long size, double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("drop probability must lie in [0, 1): " + p);
        }
        long[] bits = new long[Math.toIntExact((size + 63) >>> 6)];
        if (rnd.getClass() == Random.class && size >= FAST_MIN) {
            drawFast(rnd, size, p, bits);
        } else {
            for (long i = 0; i < size; i++) {
                if (!(rnd.nextDouble() < p)) {
                    bits[(int) (i >>> 6)] |= 1L << i;
                }
            }
        }
        return new DropoutBits(bits, size, p);
    }

    /** The generator's state transition. */
    private static long step(long s) {
        return (s * MULTIPLIER + ADDEND) & MASK;
    }

    private static void drawFast(Random rnd, long size, double p, long[] bits) {
        long s = stateOf(rnd);
        // nextDouble() = ((next(26) << 27) + next(27)) * 2^-53 < p  <=>  the 53-bit integer < ceil(p * 2^53)
        long threshold = (long) Math.ceil(p * 0x1.0p53);
        int words = bits.length;
        long i = 0;
        for (int wd = 0; wd < words; wd++) {
            long word = 0;
            int count = (int) Math.min(64, size - i);
            for (int bit = 0; bit < count; bit++) {
                s = (s * MULTIPLIER + ADDEND) & MASK;
                long hi = s >>> 22;
                s = (s * MULTIPLIER + ADDEND) & MASK;
                long x = (hi << 27) + (s >>> 21);
                if (x >= threshold) {
                    word |= 1L << bit;
                }
            }
            bits[wd] = word;
            i += count;
        }
        // setSeed scrambles its argument with the multiplier: this sets the internal state to s
        rnd.setSeed(s ^ MULTIPLIER);
    }

    /**
     * The internal state of a plain {@code Random} (before its next draw), read back from three {@code nextInt()}
     * values; the generator is left in that same state.
     */
    static long stateOf(Random rnd) {
        long i1 = rnd.nextInt() & 0xFFFFFFFFL;
        long i2 = rnd.nextInt() & 0xFFFFFFFFL;
        long i3 = rnd.nextInt() & 0xFFFFFFFFL;
        long found = -1;
        for (long low = 0; low < (1L << 16); low++) {
            long s1 = (i1 << 16) | low;
            long s2 = step(s1);
            if ((s2 >>> 16) != i2) continue;
            if ((step(s2) >>> 16) != i3) continue;
            if (found >= 0) {
                throw new IllegalStateException("ambiguous java.util.Random state");
            }
            found = s1;
        }
        if (found < 0) {
            throw new IllegalStateException("not the java.util.Random algorithm (used concurrently?)");
        }
        long s0 = ((found - ADDEND) * inverseMultiplier()) & MASK;
        rnd.setSeed(s0 ^ MULTIPLIER);
        return s0;
    }

    /** The multiplier's inverse modulo 2^48 (Newton's iteration: each step doubles the correct low bits). */
    private static long inverseMultiplier() {
        long inv = MULTIPLIER;
        for (int k = 0; k < 6; k++) {
            inv *= 2 - MULTIPLIER * inv;
        }
        return inv;
    }

    /** Number of elements. */
    public long size() {
        return size;
    }

    /** The drop probability. */
    public double p() {
        return p;
    }

    /** The value of a kept element, {@code (float) (1 / (1 - p))} (the graph's float mask value). */
    public double keepValue() {
        return (float) (1.0 / (1.0 - p));
    }

    /** Whether element {@code i} is kept. */
    public boolean kept(long i) {
        return (kept[(int) (i >>> 6)] >>> i & 1) != 0;
    }

    /** The mask values ({@link #keepValue()} or 0) of elements {@code [from, from + count)} as floats. */
    public float[] floats(long from, int count) {
        float[] out = new float[count];
        fill(out, 0, from, count);
        return out;
    }

    /** Writes the mask values of elements {@code [from, from + count)} into {@code dst} at {@code at}. */
    public void fill(float[] dst, int at, long from, int count) {
        if (from < 0 || from + count > size) {
            throw new IndexOutOfBoundsException("elements " + from + ".." + (from + count) + " of " + size);
        }
        float keep = (float) keepValue();
        for (int k = 0; k < count; k++) {
            long i = from + k;
            dst[at + k] = (kept[(int) (i >>> 6)] >>> i & 1) != 0 ? keep : 0f;
        }
    }

    /**
     * The mask values of elements {@code [from, from + count)} as an array of the given type and shape
     * (c order; the shape's element count is {@code count}).
     */
    public INDArray array(long from, DataType dtype, long... shape) {
        long count = 1;
        for (long d : shape) count *= d;
        INDArray a = Nd4j.createFromArray(floats(from, Math.toIntExact(count))).reshape('c', shape);
        if (dtype == DataType.FLOAT) {
            return a;
        }
        INDArray cast = a.castTo(dtype);
        a.close();
        return cast;
    }
}
