package org.locore.testing;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The machine's single-precision GEMM rate, measured in the running JVM for the benchmarks' efficiency figures. */
public final class GemmRate {
    private GemmRate() {
    }

    /** GFLOP/s of {@code [rows, 768] x [768, 3072]} through {@code Nd4j.gemm}, best of 6. */
    public static double measure(int rows) {
        return measure(rows, 6);
    }

    /**
     * GFLOP/s of {@code [rows, 768] x [768, 3072]} through {@code Nd4j.gemm}, best of {@code reps}: with few reps,
     * the rate just before and just after a timed run, for a ratio that follows this host's drifting speed.
     */
    public static double measure(int rows, int reps) {
        INDArray a = Nd4j.randn(DataType.FLOAT, rows, 768);
        INDArray b = Nd4j.randn(DataType.FLOAT, 768, 3072);
        INDArray c = Nd4j.create(DataType.FLOAT, rows, 3072);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t = System.nanoTime();
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            best = Math.min(best, (System.nanoTime() - t) / 1e9);
        }
        for (INDArray x : new INDArray[]{a, b, c}) {
            x.close(); // free the native memory now: measured between runs, it must not add to their peak memory
        }
        return 2.0 * rows * 768 * 3072 / best / 1e9;
    }

    /**
     * Timed runs, each bracketed by the GEMM rate measured just before and just after it ({@link #measure(int, int)},
     * best of 3 each): this host's speed moves within minutes, so each run is compared with the rate around it.
     */
    public static final class Bracket {
        private final int rows;
        private final StringBuilder runs = new StringBuilder();
        private double ratioSum;
        private int count;

        /** @param rows the GEMM's rows, as for {@link #measure(int)} */
        public Bracket(int rows) {
            this.rows = rows;
        }

        /**
         * Measures the GEMM rate, runs {@code run} (which returns its seconds), measures again, and records the
         * run's efficiency for {@code gflop} against the mean of the two rates.
         *
         * @return the run's seconds
         */
        public double time(double gflop, java.util.function.DoubleSupplier run) {
            double before = measure(rows, 3);
            double s = run.getAsDouble();
            double after = measure(rows, 3);
            double ratio = gflop / s / ((before + after) / 2);
            ratioSum += ratio;
            runs.append(String.format(java.util.Locale.ROOT, "%s%.2f s at %.0f%% of %.0f/%.0f", count == 0 ? "" : "; ",
                    s, 100 * ratio, before, after));
            count++;
            return s;
        }

        /** How many runs were recorded. */
        public int count() {
            return count;
        }

        /** {@code "each run against ...: mean R% (s at r% of before/after; ...)"}. */
        public String summary() {
            return String.format(java.util.Locale.ROOT, "each run against the GEMM rate measured just before and after"
                    + " it (best of 3 each): mean %.0f%% (%s)", 100 * ratioSum / Math.max(count, 1), runs);
        }
    }
}
