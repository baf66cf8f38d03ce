package org.locore.data.shortlist;

/**
 * The result of an exact top-M inner-product search: for each query, M gallery indices with their similarities,
 * similarities descending and ties broken by the lower gallery index.
 *
 * @param numQueries   number of queries
 * @param m            neighbours per query
 * @param similarities row-major {@code [numQueries, m]} inner products
 * @param indices      row-major {@code [numQueries, m]} gallery indices
 */
public record NearestNeighbours(int numQueries, int m, float[] similarities, int[] indices) {

    /** Similarity of the {@code k}-th neighbour of query {@code q}. */
    public float similarity(int q, int k) {
        return similarities[q * m + k];
    }

    /** Gallery index of the {@code k}-th neighbour of query {@code q}. */
    public int index(int q, int k) {
        return indices[q * m + k];
    }

    /** The neighbours as a {@link Shortlist} (similarities widened to float64, as the shortlist files hold them). */
    public Shortlist toShortlist() {
        double[] s = new double[similarities.length];
        for (int i = 0; i < s.length; i++) s[i] = similarities[i];
        return Shortlist.ofFlat(numQueries, m, s, indices);
    }

    /** The neighbours of every query as an {@code int[numQueries][m]} ranking (for the evaluators). */
    public int[][] rankings() {
        int[][] r = new int[numQueries][];
        for (int q = 0; q < numQueries; q++) {
            r[q] = java.util.Arrays.copyOfRange(indices, q * m, (q + 1) * m);
        }
        return r;
    }
}
