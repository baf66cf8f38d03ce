package org.locore.apps.gridsearch;

import org.locore.apps.rerank.SlidingReranker;
import org.locore.model.locore.Fusion;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The re-ranker logits of every query's top-K shortlist images, scored once, so that any fusion
 * (alpha, temperature) can be evaluated without running the model again: the fused ranking of a query is its
 * top K sorted by fused score (as one window of {@link SlidingReranker} would sort them) followed by the rest of
 * its shortlist in order.
 */
public final class LogitCache {
    private final int[][] rankings;
    private final double[][] similarities;
    private final float[][] logits;

    /** An empty cache for {@code numQueries} queries. */
    public LogitCache(int numQueries) {
        rankings = new int[numQueries][];
        similarities = new double[numQueries][];
        logits = new float[numQueries][];
    }

    /**
     * Stores a query.
     *
     * @param q            the query
     * @param ranking      its shortlist (gallery ids, after any protocol reordering)
     * @param similarities the aligned shortlist similarities
     * @param topLogits    the logits of the first {@code topLogits.length} entries of {@code ranking}
     */
    public void put(int q, int[] ranking, double[] similarities, float[] topLogits) {
        if (ranking.length != similarities.length || topLogits.length > ranking.length) {
            throw new IllegalArgumentException("query " + q + ": " + ranking.length + " ids, " + similarities.length
                    + " similarities, " + topLogits.length + " logits");
        }
        rankings[q] = ranking.clone();
        this.similarities[q] = similarities.clone();
        logits[q] = topLogits.clone();
    }

    /** Number of queries. */
    public int numQueries() {
        return rankings.length;
    }

    /** The cached logits of query {@code q} (a copy). */
    public float[] logits(int q) {
        return logits[q].clone();
    }

    /** The ranking of query {@code q} after fusing its cached logits with {@code fusion}. */
    public int[] fusedRanking(int q, Fusion fusion) {
        int[] ranking = rankings[q];
        if (ranking == null) throw new IllegalStateException("query " + q + " was not scored");
        int k = logits[q].length;
        int[] top = SlidingReranker.fuseAndSort(IntStream.range(0, k).toArray(), logits[q], similarities[q], fusion, null);
        int[] out = Arrays.copyOf(ranking, ranking.length);
        for (int i = 0; i < k; i++) out[i] = ranking[top[i]];
        return out;
    }

    /** The fused rankings of every query. */
    public int[][] fusedRankings(Fusion fusion) {
        int[][] out = new int[rankings.length][];
        for (int q = 0; q < out.length; q++) out[q] = fusedRanking(q, fusion);
        return out;
    }
}
