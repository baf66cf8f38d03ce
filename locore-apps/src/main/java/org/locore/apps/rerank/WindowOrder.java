package org.locore.apps.rerank;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The order in which sliding windows visit a shortlist (SPEC section 6), as the released LOCORE evaluation
 * generates the window starts for a top-N re-ranking with window W and stride S:
 * <ul>
 *   <li>{@code start-to-end}: {@code range(0, N - S, S)} (0, 50, ..., 300 for N = 400, W = 100, S = 50);</li>
 *   <li>{@code end-to-start}: {@code range(N - W, -S, -S)} (300, 250, ..., 0), the released recipe;</li>
 *   <li>{@code start-to-end-to-start}: start-to-end followed by end-to-start without its first start;</li>
 *   <li>{@code end-to-start-to-end}: end-to-start followed by start-to-end without its first start.</li>
 * </ul>
 * Starts are not clamped: a window covers the positions of the Python slice {@code [start : start + W]}
 * of the top N (see {@link #window}), so a window may be shorter than W near the end, and a negative start
 * (e.g. -1 for N = 24, W = 7, S = 3) wraps to the end and covers nothing, exactly as in the reference.
 */
public enum WindowOrder {
    /** Windows from the top of the shortlist down. */
    START_TO_END("start-to-end"),
    /** Windows from the end of the top N up to the top (the released recipe). */
    END_TO_START("end-to-start"),
    /** Down, then back up. */
    START_TO_END_TO_START("start-to-end-to-start"),
    /** Up, then back down. */
    END_TO_START_TO_END("end-to-start-to-end");

    private final String label;

    WindowOrder(String label) {
        this.label = label;
    }

    /** The name used on the command line and in the reference code ({@code end-to-start}, ...). */
    public String label() {
        return label;
    }

    @Override
    public String toString() {
        return label;
    }

    /** The order named {@code s} (its label, or the enum constant name, case-insensitive). */
    public static WindowOrder parse(String s) {
        for (WindowOrder o : values()) {
            if (o.label.equalsIgnoreCase(s) || o.name().equalsIgnoreCase(s)) return o;
        }
        throw new IllegalArgumentException("unknown window order '" + s + "'; expected one of "
                + Arrays.toString(Arrays.stream(values()).map(WindowOrder::label).toArray()));
    }

    /**
     * The window starts for re-ranking the top {@code topN} positions with windows of {@code window} positions
     * every {@code stride} positions.
     *
     * @throws IllegalArgumentException when a size is not positive
     */
    public int[] starts(int topN, int window, int stride) {
        if (topN < 1 || window < 1 || stride < 1) {
            throw new IllegalArgumentException("top " + topN + ", window " + window + " and stride " + stride
                    + " must all be positive");
        }
        int[] down = range(0, topN - stride, stride);
        int[] up = range(topN - window, -stride, -stride);
        return switch (this) {
            case START_TO_END -> down;
            case END_TO_START -> up;
            case START_TO_END_TO_START -> concatDroppingFirst(down, up);
            case END_TO_START_TO_END -> concatDroppingFirst(up, down);
        };
    }

    /** Python's {@code range(from, to, step)}. */
    static int[] range(int from, int to, int step) {
        if (step > 0) {
            return from >= to ? new int[0] : IntStream.iterate(from, i -> i < to, i -> i + step).toArray();
        }
        return from <= to ? new int[0] : IntStream.iterate(from, i -> i > to, i -> i + step).toArray();
    }

    private static int[] concatDroppingFirst(int[] a, int[] b) {
        int tail = Math.max(0, b.length - 1);
        int[] out = Arrays.copyOf(a, a.length + tail);
        if (tail > 0) System.arraycopy(b, 1, out, a.length, tail);
        return out;
    }

    /**
     * The positions {@code [from, to)} that the Python slice {@code list[start : start + window]} of a list of
     * {@code n} entries covers (negative indices count from the end; an empty slice gives {@code from == to}).
     */
    public static int[] window(int start, int window, int n) {
        int from = sliceIndex(start, n);
        int to = sliceIndex(start + window, n);
        return new int[]{from, Math.max(from, to)};
    }

    private static int sliceIndex(int i, int n) {
        if (i < 0) return Math.max(0, i + n);
        return Math.min(i, n);
    }
}
