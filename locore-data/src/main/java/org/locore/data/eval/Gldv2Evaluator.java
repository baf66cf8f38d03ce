package org.locore.data.eval;

import org.locore.data.groundtruth.GroundTruth;

import java.util.Arrays;
import java.util.Objects;

/**
 * GLDv2 retrieval evaluation (Weyand et al., CVPR 2020; Kaggle landmark retrieval): mAP@100 with rectangular AP
 * <pre>AP@100(q) = 1 / min(npos, 100) * sum_{k <= 100} P(k) rel(k)</pre>
 * computed as the AMES/LOCORE code does for {@code gldv2-test}: each ranking is cut to its first 100 entries,
 * images in the query's {@code junk} list (none in the GLDv2 ground truth) are removed before ranks are counted,
 * and queries whose {@code ok} list is empty get AP {@code NaN} and are left out of the means (the Kaggle
 * solution file does not list them). The public split is every query but the last
 * {@value #PRIVATE_QUERIES}, the private split the last {@value #PRIVATE_QUERIES}; a split without any
 * evaluated query has mAP {@code NaN}.
 * <p>
 * The normaliser is {@code min(npos, 100)} even for rankings shorter than 100 (Kaggle definition; the AMES
 * code would use {@code min(npos, ranking length)} there, identical for the shortlists of 100 or more used in
 * practice). Values are fractions in [0, 1].
 */
public final class Gldv2Evaluator {
    /** Number of queries at the end of the query list that form the private split. */
    public static final int PRIVATE_QUERIES = 750;
    /** Number of predictions per query that count. */
    public static final int MAX_PREDICTIONS = 100;

    private final GroundTruth gnd;

    /**
     * @param gnd ground truth with {@code ok} lists (GLDv2 style)
     */
    public Gldv2Evaluator(GroundTruth gnd) {
        this.gnd = Objects.requireNonNull(gnd, "gnd");
    }

    /**
     * Evaluates rankings.
     *
     * @param rankings per query (in ground-truth order), gallery indices in ranked order (any length)
     * @return public, private and combined mAP@100 and per-query AP@100
     * @throws IllegalArgumentException when the number of rankings differs from the number of queries or a
     *                                  ranking holds a negative index
     */
    public Gldv2Result evaluate(int[][] rankings) {
        int nq = gnd.numQueries();
        if (rankings.length != nq) {
            throw new IllegalArgumentException("got " + rankings.length + " rankings for " + nq + " queries");
        }
        double[] aps = new double[nq];
        for (int i = 0; i < nq; i++) {
            GroundTruth.Query q = gnd.queries().get(i);
            aps[i] = q.ok().length == 0 ? Double.NaN : averagePrecision(rankings[i], q.ok(), q.junk(), i);
        }
        int firstPrivate = Math.max(0, nq - PRIVATE_QUERIES);
        int evaluated = 0;
        for (double ap : aps) if (!Double.isNaN(ap)) evaluated++;
        return new Gldv2Result(mean(aps, 0, firstPrivate), mean(aps, firstPrivate, nq), mean(aps, 0, nq), aps,
                evaluated);
    }

    /**
     * Rectangular AP@100 of one ranking.
     *
     * @param ranking gallery indices in ranked order
     * @param ok      the query's positives (non-empty)
     * @param junk    images to drop before counting ranks (may be empty)
     * @return the AP in [0, 1]
     */
    public static double averagePrecision(int[] ranking, int[] ok, int[] junk) {
        return averagePrecision(ranking, ok, junk, -1);
    }

    private static double averagePrecision(int[] ranking, int[] ok, int[] junk, int query) {
        int[] okSorted = ok.clone();
        Arrays.sort(okSorted);
        int[] junkSorted = junk.clone();
        Arrays.sort(junkSorted);
        int n = Math.min(ranking.length, MAX_PREDICTIONS);
        int junkBefore = 0;
        int found = 0;
        double sum = 0;
        for (int r = 0; r < n; r++) {
            int id = ranking[r];
            if (id < 0) {
                throw new IllegalArgumentException("ranking" + (query >= 0 ? " of query " + query : "")
                        + " holds negative index " + id + " at rank " + r);
            }
            if (Arrays.binarySearch(okSorted, id) >= 0) {
                found++;
                sum += (double) found / (r - junkBefore + 1);
            }
            if (Arrays.binarySearch(junkSorted, id) >= 0) {
                junkBefore++;
            }
        }
        return sum / Math.min(ok.length, MAX_PREDICTIONS);
    }

    private static double mean(double[] aps, int from, int to) {
        double sum = 0;
        int n = 0;
        for (int i = from; i < to; i++) {
            if (!Double.isNaN(aps[i])) {
                sum += aps[i];
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}
