package org.locore.model.longformer;

import org.locore.model.rowops.RowOps;
import org.locore.model.rowops.Workers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The float32 training pass's row work ({@link LongformerBackprop}, {@link AttentionBackprop}): rows of whole
 * c-order native arrays copied into per-worker Java scratch rows, transformed by the {@link RowOps} kernels and
 * written back, with the rows split over {@link Workers#rows}; per-worker column accumulators for the bias and
 * LayerNorm parameter gradients, summed in worker order afterwards (deterministic for a given worker count).
 * Not thread-safe (one pass at a time).
 */
final class RowWork {
    /** The row kernels. */
    final RowOps ops;
    /** Workers. */
    final int threads;
    private final float[][][] scratch;
    private final float[][][] acc;
    private final int len;

    /**
     * @param ops     row kernels
     * @param threads workers
     * @param len     the longest row
     */
    RowWork(RowOps ops, int threads, int len) {
        this.ops = ops;
        this.threads = threads;
        this.len = len;
        scratch = new float[threads][4][len];
        acc = new float[threads][3][len];
    }

    /** Worker k's scratch row i (of {@code len} floats; 4 per worker). */
    float[] row(int k, int i) {
        return scratch[k][i];
    }

    /** Worker k's column accumulator i (3 per worker), zeroed by {@link #clearAcc}. */
    float[] acc(int k, int i) {
        return acc[k][i];
    }

    /** Zeroes the first {@code n} columns of every worker's accumulators. */
    void clearAcc(int n) {
        for (float[][] perWorker : acc) {
            for (float[] a : perWorker) Arrays.fill(a, 0, n, 0f);
        }
    }

    /** Accumulator i summed over the workers in order: {@code n} columns. */
    float[] sumAcc(int i, int n) {
        float[] out = new float[n];
        for (float[][] perWorker : acc) {
            ops.accumulate(out, perWorker[i], 0, n);
        }
        return out;
    }

    /** Runs {@code task} over {@code rows} rows split over the workers. */
    void rows(int rows, Workers.RowTask task) {
        Workers.rows(threads, rows, task);
    }

    /** The longest row. */
    int length() {
        return len;
    }

    /** The native buffer of a whole c-order float array (offset 0, as long as its buffer) as floats. */
    static FloatBuffer floats(INDArray a) {
        if (a.offset() != 0 || a.ordering() != 'c' || a.data().length() != a.length()
                || a.dataType() != DataType.FLOAT) {
            throw new IllegalStateException("expected a whole c-order float array");
        }
        return a.data().asNioFloat();
    }
}
