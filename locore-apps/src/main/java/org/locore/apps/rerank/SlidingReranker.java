package org.locore.apps.rerank;

import org.locore.model.locore.Fusion;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * Sliding-window re-ranking (SPEC section 6). For each window start of a {@link WindowOrder}, the images currently
 * at the positions of the window are scored by the re-ranker in one sequence, their scores are fused with their
 * shortlist similarities ({@link Fusion}) and those positions are re-sorted in place by fused score (descending,
 * stable); later windows see the new order. Positions beyond the top N keep the shortlist order. A single
 * window over the top K is {@code window = stride = topN = K} with {@link WindowOrder#END_TO_START}.
 * <p>
 * Several queries are re-ranked in lockstep: at each window step the windows of all queries that have the same
 * number of images are handed to the {@link Scorer} together, at most {@code maxBatch} at a time, so that the
 * model can score them in one batched forward pass.
 */
public final class SlidingReranker {
    /**
     * Scores windows: for each window, one re-ranker logit per image (the max-end class-1 logit for LOCORE).
     * All windows of one call have the same number of positions.
     */
    @FunctionalInterface
    public interface Scorer {
        /** @return {@code [windows.size()][positions]} logits in the order of each window's positions */
        float[][] score(List<Window> windows);
    }

    /**
     * One window to score.
     *
     * @param query     the query
     * @param positions positions in the query's input ranking (0 = its first entry), in current rank order
     */
    public record Window(int query, int[] positions) {
    }

    /**
     * One query to re-rank.
     *
     * @param query        the query (passed to the scorer)
     * @param ranking      gallery ids in shortlist order (after any protocol reordering)
     * @param similarities the shortlist similarities aligned with {@code ranking}
     */
    public record Query(int query, int[] ranking, double[] similarities) {
        /** Checks the lengths agree. */
        public Query {
            if (ranking.length != similarities.length) {
                throw new IllegalArgumentException("query " + query + ": " + ranking.length + " ids but "
                        + similarities.length + " similarities");
            }
        }
    }

    /**
     * One window pass.
     *
     * @param start   the window start (as generated, possibly negative)
     * @param members the input-ranking positions in the window before re-sorting (empty for an empty slice)
     * @param logits  their re-ranker logits
     * @param fused   their fused scores
     */
    public record Pass(int start, int[] members, float[] logits, double[] fused) {
    }

    /**
     * The re-ranked result of one query.
     *
     * @param query        the query
     * @param order        the input-ranking positions in their final order (full length)
     * @param ranking      the gallery ids in their final order (full length)
     * @param similarities the shortlist similarities following their images
     * @param passes       every window pass in order
     */
    public record Result(int query, int[] order, int[] ranking, double[] similarities, List<Pass> passes) {
    }

    private final int window;
    private final int stride;
    private final int topN;
    private final WindowOrder order;
    private final Fusion fusion;
    private final int maxBatch;
    private final int[] starts;

    /**
     * @param window   positions per window (K)
     * @param stride   distance between window starts
     * @param topN     how many leading positions are re-ranked
     * @param order    the window order
     * @param fusion   alpha and temperature
     * @param maxBatch the most windows handed to the scorer in one call
     */
    public SlidingReranker(int window, int stride, int topN, WindowOrder order, Fusion fusion, int maxBatch) {
        this.order = Objects.requireNonNull(order, "order");
        this.fusion = Objects.requireNonNull(fusion, "fusion");
        if (maxBatch < 1) throw new IllegalArgumentException("batch must be positive, got " + maxBatch);
        this.starts = order.starts(topN, window, stride);
        this.window = window;
        this.stride = stride;
        this.topN = topN;
        this.maxBatch = maxBatch;
    }

    /** The window starts this re-ranker visits. */
    public int[] starts() {
        return starts.clone();
    }

    /** Positions per window. */
    public int window() {
        return window;
    }

    /** Distance between window starts. */
    public int stride() {
        return stride;
    }

    /** Leading positions re-ranked. */
    public int topN() {
        return topN;
    }

    /** The fusion used. */
    public Fusion fusion() {
        return fusion;
    }

    /** Re-ranks one query. */
    public Result rerank(Query query, Scorer scorer) {
        return rerank(List.of(query), scorer).get(0);
    }

    /** Re-ranks several queries in lockstep (windows of equal size batched across queries). */
    public List<Result> rerank(List<Query> queries, Scorer scorer) {
        int nq = queries.size();
        int[][] current = new int[nq][];
        List<List<Pass>> passes = new ArrayList<>();
        for (int i = 0; i < nq; i++) {
            current[i] = IntStream.range(0, queries.get(i).ranking().length).toArray();
            passes.add(new ArrayList<>());
        }
        for (int start : starts) {
            // windows of this step, grouped by size
            Map<Integer, List<Integer>> bySize = new LinkedHashMap<>();
            int[][] members = new int[nq][];
            for (int i = 0; i < nq; i++) {
                int n = Math.min(topN, current[i].length);
                int[] w = WindowOrder.window(start, window, n);
                members[i] = Arrays.copyOfRange(current[i], w[0], w[1]);
                bySize.computeIfAbsent(members[i].length, s -> new ArrayList<>()).add(i);
            }
            float[][] logits = new float[nq][];
            for (Map.Entry<Integer, List<Integer>> e : bySize.entrySet()) {
                List<Integer> group = e.getValue();
                if (e.getKey() == 0) {
                    for (int i : group) logits[i] = new float[0];
                    continue;
                }
                for (int from = 0; from < group.size(); from += maxBatch) {
                    List<Integer> chunk = group.subList(from, Math.min(group.size(), from + maxBatch));
                    List<Window> ws = new ArrayList<>(chunk.size());
                    for (int i : chunk) ws.add(new Window(queries.get(i).query(), members[i]));
                    float[][] out = scorer.score(ws);
                    if (out.length != chunk.size()) {
                        throw new IllegalStateException("scorer returned " + out.length + " rows for "
                                + chunk.size() + " windows");
                    }
                    for (int j = 0; j < chunk.size(); j++) {
                        if (out[j].length != e.getKey()) {
                            throw new IllegalStateException("scorer returned " + out[j].length + " logits for a window of "
                                    + e.getKey());
                        }
                        logits[chunk.get(j)] = out[j];
                    }
                }
            }
            for (int i = 0; i < nq; i++) {
                int n = Math.min(topN, current[i].length);
                int[] w = WindowOrder.window(start, window, n);
                double[] fused = new double[members[i].length];
                int[] sorted = fuseAndSort(members[i], logits[i], queries.get(i).similarities(), fusion, fused);
                System.arraycopy(sorted, 0, current[i], w[0], sorted.length);
                passes.get(i).add(new Pass(start, members[i], logits[i], fused));
            }
        }
        List<Result> results = new ArrayList<>(nq);
        for (int i = 0; i < nq; i++) {
            Query q = queries.get(i);
            int[] ids = new int[current[i].length];
            double[] sims = new double[current[i].length];
            for (int p = 0; p < ids.length; p++) {
                ids[p] = q.ranking()[current[i][p]];
                sims[p] = q.similarities()[current[i][p]];
            }
            results.add(new Result(q.query(), current[i], ids, sims, List.copyOf(passes.get(i))));
        }
        return results;
    }

    /**
     * Fuses the logits of window members with their similarities and sorts them by fused score, descending
     * (stable: equal scores keep their current order).
     *
     * @param members      positions in the input ranking, in current order
     * @param logits       their logits
     * @param similarities the input ranking's similarities, indexed by position
     * @param fusion       alpha and temperature
     * @param fusedOut     receives the fused score of each member (in member order), or null
     * @return the members in their new order
     */
    public static int[] fuseAndSort(int[] members, float[] logits, double[] similarities, Fusion fusion,
                                    double[] fusedOut) {
        int k = members.length;
        double[] fused = fusedOut != null ? fusedOut : new double[k];
        for (int j = 0; j < k; j++) {
            fused[j] = fusion.fuse(similarities[members[j]], logits[j]);
        }
        Integer[] idx = new Integer[k];
        for (int j = 0; j < k; j++) idx[j] = j;
        Arrays.sort(idx, Comparator.comparingDouble((Integer j) -> fused[j]).reversed());
        int[] out = new int[k];
        for (int j = 0; j < k; j++) out[j] = members[idx[j]];
        return out;
    }
}
