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
}
