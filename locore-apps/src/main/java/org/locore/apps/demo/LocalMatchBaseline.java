package org.locore.apps.demo;

import org.locore.data.features.ImageFeatures;
import org.locore.data.groundtruth.Protocol;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * A learning-free local-matching re-ranker, the yardstick of the demo: the score of a gallery image is the number
 * of mutual nearest neighbours between its valid local descriptors and the query's whose cosine similarity is at
 * least a threshold (plus the global similarity, below 1, to break ties). Re-ranking sorts the top-k images of
 * each (protocol-reordered) shortlist by that score and leaves the rest in place. It uses no label and no model:
 * it shows what the synthetic data admits.
 */
public final class LocalMatchBaseline {
    /** Default cosine threshold of a match. */
    public static final double DEFAULT_THRESHOLD = 0.75;

    private final double threshold;

    /** @param threshold cosine similarity a mutual nearest neighbour needs to count as a match */
    public LocalMatchBaseline(double threshold) {
        if (!(threshold > -1 && threshold < 1)) {
            throw new IllegalArgumentException("threshold must lie in (-1, 1), got " + threshold);
        }
        this.threshold = threshold;
    }

    /** Number of mutual nearest neighbours of two images' valid rows with cosine >= the threshold. */
    public int matches(ImageFeatures a, ImageFeatures b) {
        if (a.dim() != b.dim()) {
            throw new IllegalArgumentException("descriptor dimensions differ: " + a.dim() + " and " + b.dim());
        }
        int d = a.dim();
        int na = a.rows(), nb = b.rows();
        int[] bestOfA = new int[na];
        float[] bestSimA = new float[na];
        int[] bestOfB = new int[nb];
        float[] bestSimB = new float[nb];
        Arrays.fill(bestOfA, -1);
        Arrays.fill(bestOfB, -1);
        Arrays.fill(bestSimA, Float.NEGATIVE_INFINITY);
        Arrays.fill(bestSimB, Float.NEGATIVE_INFINITY);
        float[] da = a.descriptors(), db = b.descriptors();
        for (int i = 0; i < na; i++) {
            if (a.mask()[i]) continue;
            for (int j = 0; j < nb; j++) {
                if (b.mask()[j]) continue;
                float s = 0;
                for (int k = 0; k < d; k++) s += da[i * d + k] * db[j * d + k];
                if (s > bestSimA[i]) {
                    bestSimA[i] = s;
                    bestOfA[i] = j;
                }
                if (s > bestSimB[j]) {
                    bestSimB[j] = s;
                    bestOfB[j] = i;
                }
            }
        }
        int n = 0;
        for (int i = 0; i < na; i++) {
            int j = bestOfA[i];
            if (j >= 0 && bestOfB[j] == i && bestSimA[i] >= threshold) n++;
        }
        return n;
    }

    /**
     * Re-ranks the first {@code top} entries of a ranking by match count (global similarity breaking ties).
     *
     * @param query        the query's features
     * @param ranking      gallery ids in ranked order (not modified)
     * @param similarities global similarity of each entry of {@code ranking}
     * @param top          how many leading entries to re-rank
     * @param images       the features of a gallery id
     * @return the new ranking (same ids)
     */
    public int[] rerank(ImageFeatures query, int[] ranking, double[] similarities, int top, Images images) {
        int k = Math.min(top, ranking.length);
        double[] score = new double[k];
        for (int i = 0; i < k; i++) {
            try {
                score[i] = matches(query, images.get(ranking[i])) + Math.max(0, Math.min(similarities[i], 0.999));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        Integer[] order = new Integer[k];
        for (int i = 0; i < k; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> Double.compare(score[y], score[x]));
        int[] out = ranking.clone();
        for (int i = 0; i < k; i++) out[i] = ranking[order[i]];
        return out;
    }

    /**
     * Re-ranks the top-k of every query of a test benchmark after reordering its shortlist for a protocol
     * (queries in parallel).
     *
     * @return one ranking per query, ready for
     *         {@link org.locore.data.eval.RevisitedEvaluator#evaluate(int[][], Protocol)}
     */
    public int[][] rerank(TestBenchmark bench, Protocol protocol, int top) {
        int[][] out = new int[bench.numQueries()][];
        IntStream.range(0, out.length).parallel().forEach(q -> {
            try {
                int[] ids = bench.reordered(q, protocol);
                double[] sims = similaritiesOf(bench, q, ids);
                out[q] = rerank(bench.query(q), ids, sims, top, bench::image);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        return out;
    }

    /** The global similarities of query {@code q}'s shortlist entries, in the order of {@code ids}. */
    static double[] similaritiesOf(TestBenchmark bench, int q, int[] ids) {
        int[] original = bench.shortlist().ids(q);
        double[] sims = bench.shortlist().similarities(q);
        java.util.Map<Integer, Double> byId = new java.util.HashMap<>();
        for (int i = 0; i < original.length; i++) byId.put(original[i], sims[i]);
        double[] out = new double[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = byId.get(ids[i]);
        return out;
    }

    /** Reads a gallery image's features. */
    @FunctionalInterface
    public interface Images {
        /** The features of gallery id {@code id}. */
        ImageFeatures get(int id) throws IOException;
    }
}
