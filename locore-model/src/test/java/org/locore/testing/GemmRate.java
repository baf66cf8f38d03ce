package org.locore.testing;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The machine's single-precision GEMM rate, measured in the running JVM for the benchmarks' efficiency figures: the
 * reference product {@code [rows, 768] x [768, 3072]} through {@code Nd4j.gemm}, timed repeatedly after one untimed
 * warm-up product, reported both as the best single product (the peak) and as the mean over all of them (the
 * sustained rate, measured the way the benchmarks measure a forward: total work over total time).
 */
public final class GemmRate {
    private GemmRate() {
    }

    /** The best and the mean rate of a sample's timed products, GFLOP/s. */
    public record Sample(double best, double mean) {
    }

    /** GFLOP/s of {@code [rows, 768] x [768, 3072]} through {@code Nd4j.gemm}, best of 6. */
    public static double measure(int rows) {
        return sample(rows, 6).best();
    }

    /** {@code reps} timed products after one untimed one: the best and the mean rate. */
    public static Sample sample(int rows, int reps) {
        INDArray a = Nd4j.randn(DataType.FLOAT, rows, 768);
        INDArray b = Nd4j.randn(DataType.FLOAT, 768, 3072);
        INDArray c = Nd4j.create(DataType.FLOAT, rows, 3072);
        Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
        double best = Double.MAX_VALUE;
        double total = 0;
        for (int i = 0; i < reps; i++) {
            long t = System.nanoTime();
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            double s = (System.nanoTime() - t) / 1e9;
            best = Math.min(best, s);
            total += s;
        }
        for (INDArray x : new INDArray[]{a, b, c}) {
            x.close(); // free the native memory now: measured between runs, it must not add to their peak memory
        }
        double gflop = 2.0 * rows * 768 * 3072 / 1e9;
        return new Sample(gflop / best, gflop * reps / total);
    }

    /**
     * Timed runs, each bracketed by GEMM samples ({@link #sample}) taken just before and just after it: this host's
     * speed moves within minutes, so each run is compared with the rate around it, both the peak (best product of
     * each sample) and the sustained rate (mean over each sample's products).
     */
    public static final class Bracket {
        /** Timed products of each sample before and after a run. */
        private static final int REPS = 8;
        private final int rows;
        private final StringBuilder runs = new StringBuilder();
        private double ratioSum;
        private double sustainedRatioSum;
        private int count;

        /** @param rows the GEMM's rows, as for {@link #measure(int)}; 8 products before and after each run */
        public Bracket(int rows) {
            this.rows = rows;
        }

        /**
         * Samples the GEMM rate, runs {@code run} (which returns its seconds), samples again, and records the run's
         * efficiency for {@code gflop} against the mean of the two best rates and against the mean of the two
         * sustained rates.
         *
         * @return the run's seconds
         */
        public double time(double gflop, java.util.function.DoubleSupplier run) {
            Sample before = sample(rows, REPS);
            double s = run.getAsDouble();
            Sample after = sample(rows, REPS);
            double achieved = gflop / s;
            double ratio = achieved / ((before.best() + after.best()) / 2);
            double sustained = achieved / ((before.mean() + after.mean()) / 2);
            ratioSum += ratio;
            sustainedRatioSum += sustained;
            runs.append(String.format(java.util.Locale.ROOT, "%s%.2f s at %.0f%% of %.0f/%.0f best, %.0f%% of %.0f/%.0f"
                            + " mean", count == 0 ? "" : "; ", s, 100 * ratio, before.best(), after.best(),
                    100 * sustained, before.mean(), after.mean()));
            count++;
            return s;
        }

        /** How many runs were recorded. */
        public int count() {
            return count;
        }

        /** The mean over the runs of their efficiency against the best products around them. */
        public double meanRatio() {
            return ratioSum / Math.max(count, 1);
        }

        /** The mean over the runs of their efficiency against the sustained (mean) rate around them. */
        public double meanSustainedRatio() {
            return sustainedRatioSum / Math.max(count, 1);
        }

        /** {@code "each run against ...: mean R% of the best, S% of the sustained rate (...)"}. */
        public String summary() {
            return String.format(java.util.Locale.ROOT, "each run against the GEMM rate measured just before and after"
                            + " it (%d products each): mean %.0f%% of the best product, %.0f%% of the sustained (mean)"
                            + " rate (%s)", REPS, 100 * meanRatio(), 100 * meanSustainedRatio(), runs);
        }
    }
}
