package org.locore.data.shortlist;

import java.util.Arrays;
import java.util.Objects;

/**
 * The global-descriptor shortlist of every query: for query {@code q}, {@link #length()} gallery images in rank
 * order with their similarities (descending in the released files; not enforced, so that re-ordered lists can
 * be held too). Immutable; accessors return copies.
 */
public final class Shortlist {
    private final int numQueries;
    private final int length;
    private final double[] similarities;
    private final int[] ids;

    private Shortlist(int numQueries, int length, double[] similarities, int[] ids) {
        this.numQueries = numQueries;
        this.length = length;
        this.similarities = similarities;
        this.ids = ids;
    }

    /**
     * A shortlist from per-query rows.
     *
     * @param similarities {@code [Nq][M]} similarities, rows of equal length, no NaN
     * @param ids          {@code [Nq][M]} gallery indices, non-negative, same shape as {@code similarities}
     * @throws IllegalArgumentException when the shapes differ, rows are ragged, an id is negative or a
     *                                  similarity is NaN
     */
    public static Shortlist of(double[][] similarities, int[][] ids) {
        Objects.requireNonNull(similarities, "similarities");
        Objects.requireNonNull(ids, "ids");
        if (similarities.length != ids.length) {
            throw new IllegalArgumentException(similarities.length + " rows of similarities but " + ids.length
                    + " rows of ids");
        }
        int nq = similarities.length;
        int m = nq == 0 ? 0 : similarities[0].length;
        if ((long) nq * m > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("shortlist of " + nq + " x " + m + " entries is too large");
        }
        double[] s = new double[nq * m];
        int[] g = new int[nq * m];
        for (int q = 0; q < nq; q++) {
            if (similarities[q].length != m || ids[q].length != m) {
                throw new IllegalArgumentException("query " + q + ": " + similarities[q].length + " similarities and "
                        + ids[q].length + " ids, expected " + m + " of each");
            }
            System.arraycopy(similarities[q], 0, s, q * m, m);
            System.arraycopy(ids[q], 0, g, q * m, m);
        }
        return ofFlat(nq, m, s, g);
    }

    /**
     * A shortlist from row-major arrays of {@code numQueries * length} entries (copied).
     *
     * @throws IllegalArgumentException when sizes disagree, an id is negative or a similarity is NaN
     */
    public static Shortlist ofFlat(int numQueries, int length, double[] similarities, int[] ids) {
        if (numQueries < 0 || length < 0) {
            throw new IllegalArgumentException("negative size " + numQueries + " x " + length);
        }
        long n = (long) numQueries * length;
        if (similarities.length != n || ids.length != n) {
            throw new IllegalArgumentException(numQueries + " x " + length + " shortlist needs " + n
                    + " similarities and ids, got " + similarities.length + " and " + ids.length);
        }
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0) {
                throw new IllegalArgumentException("query " + i / length + ", position " + i % length
                        + ": negative gallery id " + ids[i]);
            }
            if (Double.isNaN(similarities[i])) {
                throw new IllegalArgumentException("query " + i / length + ", position " + i % length
                        + ": similarity is NaN");
            }
        }
        return new Shortlist(numQueries, length, similarities.clone(), ids.clone());
    }

    /** Number of queries (Nq). */
    public int numQueries() {
        return numQueries;
    }

    /** Entries per query (M). */
    public int length() {
        return length;
    }

    private int at(int q, int j) {
        Objects.checkIndex(q, numQueries);
        Objects.checkIndex(j, length);
        return q * length + j;
    }

    /** The similarity of query {@code q}'s entry at rank {@code j}. */
    public double similarity(int q, int j) {
        return similarities[at(q, j)];
    }

    /** The gallery index of query {@code q}'s entry at rank {@code j}. */
    public int id(int q, int j) {
        return ids[at(q, j)];
    }

    /** Query {@code q}'s gallery indices in rank order (a copy). */
    public int[] ids(int q) {
        Objects.checkIndex(q, numQueries);
        return Arrays.copyOfRange(ids, q * length, (q + 1) * length);
    }

    /** Query {@code q}'s similarities in rank order (a copy). */
    public double[] similarities(int q) {
        Objects.checkIndex(q, numQueries);
        return Arrays.copyOfRange(similarities, q * length, (q + 1) * length);
    }

    /** The largest gallery index in the shortlist, or -1 when it is empty. */
    public int maxId() {
        int max = -1;
        for (int id : ids) max = Math.max(max, id);
        return max;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shortlist s && s.numQueries == numQueries && s.length == length
                && Arrays.equals(s.similarities, similarities) && Arrays.equals(s.ids, ids);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * numQueries + length) + Arrays.hashCode(ids);
    }

    @Override
    public String toString() {
        return "Shortlist[" + numQueries + " queries x " + length + "]";
    }
}
