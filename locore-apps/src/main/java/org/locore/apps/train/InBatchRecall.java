package org.locore.apps.train;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * In-batch recall@k: per sequence, the gallery images ranked by score (highest first); recall@k is the fraction
 * of the sequence's positives found among the first k. Sequences without positives are skipped.
 */
public final class InBatchRecall {
    private final int[] ks;
    private final double[] sums;
    private int sequences;

    /** Recall at each cut-off in {@code ks}. */
    public InBatchRecall(int... ks) {
        this.ks = ks.clone();
        this.sums = new double[ks.length];
    }

    /**
     * Adds a batch.
     *
     * @param scores   {@code [B, K]} scores
     * @param positive {@code [B, K]} 1 = positive
     */
    public void add(INDArray scores, INDArray positive) {
        int b = (int) scores.size(0);
        int k = (int) scores.size(1);
        for (int r = 0; r < b; r++) {
            float[] s = new float[k];
            int npos = 0;
            for (int j = 0; j < k; j++) {
                s[j] = scores.getFloat(r, j);
                if (positive.getLong(r, j) != 0) npos++;
            }
            if (npos == 0) continue;
            sequences++;
            for (int c = 0; c < ks.length; c++) {
                int hits = 0;
                for (int j = 0; j < k; j++) {
                    if (positive.getLong(r, j) == 0) continue;
                    // rank of j: images scoring higher, ties broken by position (stable order)
                    int rank = 0;
                    for (int i = 0; i < k; i++) {
                        if (s[i] > s[j] || (s[i] == s[j] && i < j)) rank++;
                    }
                    if (rank < ks[c]) hits++;
                }
                sums[c] += (double) hits / npos;
            }
        }
    }

    /** Mean recall at cut-off index {@code c} (NaN when no sequence had positives). */
    public double recall(int c) {
        return sequences == 0 ? Double.NaN : sums[c] / sequences;
    }

    /** Sequences counted. */
    public int sequences() {
        return sequences;
    }
}
