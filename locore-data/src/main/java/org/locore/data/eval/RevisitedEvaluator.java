package org.locore.data.eval;

import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;

import java.util.Arrays;
import java.util.Objects;

/**
 * Revisited Oxford/Paris evaluation (Radenovic et al., CVPR 2018), computing exactly what the benchmark's
 * {@code compute_map} ({@code revisitop/python/evaluate.py}) computes:
 * <ul>
 *   <li>For each query and protocol, the positives ({@code ok}) and ignored images ({@code junk}) are those of
 *       {@link Protocol}. Walking the ranking, each positive gets its 0-based rank minus the number of ignored
 *       images ranked strictly before it.</li>
 *   <li>AP is the trapezoidal area {@code sum_j (p0 + p1) / (2 npos)} with {@code p0 = j / r_j} (1 when
 *       {@code r_j = 0}) and {@code p1 = (j + 1) / (r_j + 1)}, where {@code npos} is the length of the query's
 *       positive list: positives that a truncated ranking does not contain count as never retrieved.</li>
 *   <li>mP@k uses the benchmark's quirk {@code kq = min(k, r_last + 1)} with {@code r_last} the (shifted) rank
 *       of the last positive in the ranking: precision is {@code #{positives with rank + 1 <= kq} / kq}.</li>
 *   <li>Queries with no positive under a protocol get AP {@code NaN} and are excluded from that protocol's
 *       means. A query with positives none of which appears in its (truncated) ranking has AP 0 and mP@k 0
 *       (the benchmark code would fail on it; the AMES/LOCORE copy of it counts 0, as here).</li>
 * </ul>
 * All metrics are fractions in [0, 1]; the benchmark prints them times 100.
 * <p>
 * Rankings are given per query as gallery indices in ranked order, full or truncated, possibly of different
 * lengths. Indices {@code >= numImages()} of the ground truth are distractors (e.g. the +1M set appended
 * after the benchmark's images): they are never positive nor ignored.
 */
public final class RevisitedEvaluator {
    /** The cut-offs of the mean precision reported by the benchmark (mP@1, mP@5, mP@10). */
    private static final int[] KAPPAS = {1, 5, 10};

    private static final byte POSITIVE = 1;
    private static final byte IGNORED = 2;

    private final GroundTruth gnd;

    /**
     * @param gnd the benchmark's ground truth (queries with {@code easy/hard/junk} lists)
     */
    public RevisitedEvaluator(GroundTruth gnd) {
        this.gnd = Objects.requireNonNull(gnd, "gnd");
    }

    /** The ground truth evaluated against. */
    public GroundTruth groundTruth() {
        return gnd;
    }

    /**
     * Evaluates the same rankings under the three protocols.
     *
     * @param rankings per query (in ground-truth query order), gallery indices in ranked order
     * @return Easy, Medium and Hard metrics
     * @throws IllegalArgumentException when the number of rankings differs from the number of queries or a
     *                                  ranking holds a negative index
     */
    public RevisitedResult evaluate(int[][] rankings) {
        return new RevisitedResult(evaluate(rankings, Protocol.EASY), evaluate(rankings, Protocol.MEDIUM),
                evaluate(rankings, Protocol.HARD));
    }

    /**
     * Evaluates rankings under one protocol (as for LOCORE, where the Medium and Hard rankings come from separate
     * re-ranking passes, see {@link #reorderForProtocol}).
     *
     * @param rankings per query (in ground-truth query order), gallery indices in ranked order
     * @param protocol the protocol
     * @return mAP, mP@1/5/10 and the per-query AP (the means are {@code NaN} when no query has a positive)
     * @throws IllegalArgumentException when the number of rankings differs from the number of queries or a
     *                                  ranking holds a negative index
     */
    public ProtocolResult evaluate(int[][] rankings, Protocol protocol) {
        Objects.requireNonNull(protocol, "protocol");
        int nq = gnd.numQueries();
        if (rankings.length != nq) {
            throw new IllegalArgumentException("got " + rankings.length + " rankings for " + nq + " queries");
        }
        int numImages = gnd.numImages();
        byte[] marks = new byte[numImages];
        double[] aps = new double[nq];
        double mapSum = 0;
        double[] prSum = new double[KAPPAS.length];
        int evaluated = 0;
        for (int i = 0; i < nq; i++) {
            GroundTruth.Query q = gnd.queries().get(i);
            int[] ok = okList(q, protocol);
            if (ok.length == 0) {
                aps[i] = Double.NaN;
                continue;
            }
            int[] junk = junkList(q, protocol);
            mark(marks, junk, IGNORED, numImages, i);
            mark(marks, ok, POSITIVE, numImages, i);
            int[] pos = positiveRanks(rankings[i], marks, i);
            clear(marks, ok);
            clear(marks, junk);

            double ap = trapezoidalAp(pos, ok.length);
            aps[i] = ap;
            mapSum += ap;
            for (int j = 0; j < KAPPAS.length; j++) {
                prSum[j] += precisionAtK(pos, KAPPAS[j]);
            }
            evaluated++;
        }
        return new ProtocolResult(protocol, mapSum / evaluated, prSum[0] / evaluated, prSum[1] / evaluated,
                prSum[2] / evaluated, aps, evaluated);
    }

    /**
     * The positives of a query under a protocol as the benchmark builds them ({@code np.concatenate} of the
     * lists, duplicates kept: their count is {@code npos}).
     */
    static int[] okList(GroundTruth.Query q, Protocol p) {
        return switch (p) {
            case EASY -> q.easy();
            case MEDIUM -> concat(q.easy(), q.hard());
            case HARD -> q.hard();
        };
    }

    /** The ignored images of a query under a protocol as the benchmark builds them. */
    static int[] junkList(GroundTruth.Query q, Protocol p) {
        return switch (p) {
            case EASY -> concat(q.junk(), q.hard());
            case MEDIUM -> q.junk();
            case HARD -> concat(q.junk(), q.easy());
        };
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static void mark(byte[] marks, int[] ids, byte flag, int numImages, int query) {
        for (int id : ids) {
            if (id < 0 || id >= numImages) {
                throw new IllegalArgumentException("ground truth of query " + query + " holds gallery index " + id
                        + " outside [0, " + numImages + ")");
            }
            marks[id] |= flag;
        }
    }

    private static void clear(byte[] marks, int[] ids) {
        for (int id : ids) {
            marks[id] = 0;
        }
    }

    /**
     * 0-based ranks of the positives in a ranking after removing ignored images: each positive's position minus
     * the number of ignored images strictly before it (an image both positive and ignored counts as a positive
     * at its own position and as ignored for later ones, as in the benchmark).
     */
    private static int[] positiveRanks(int[] ranking, byte[] marks, int query) {
        int[] pos = new int[Math.min(ranking.length, 16)];
        int n = 0;
        int ignoredBefore = 0;
        for (int r = 0; r < ranking.length; r++) {
            int id = ranking[r];
            if (id < 0) {
                throw new IllegalArgumentException("ranking of query " + query + " holds negative index " + id
                        + " at rank " + r);
            }
            if (id >= marks.length) {
                continue; // distractor
            }
            byte m = marks[id];
            if ((m & POSITIVE) != 0) {
                if (n == pos.length) pos = Arrays.copyOf(pos, Math.max(16, 2 * n));
                pos[n++] = r - ignoredBefore;
            }
            if ((m & IGNORED) != 0) {
                ignoredBefore++;
            }
        }
        return Arrays.copyOf(pos, n);
    }

    /**
     * Trapezoidal average precision of the benchmark ({@code compute_ap}).
     *
     * @param ranks 0-based, increasing ranks of the retrieved positives (ignored images already removed)
     * @param npos  number of positives of the query (retrieved or not), > 0
     * @return the AP in [0, 1]
     */
    public static double trapezoidalAp(int[] ranks, int npos) {
        double recallStep = 1.0 / npos;
        double ap = 0;
        for (int j = 0; j < ranks.length; j++) {
            int rank = ranks[j];
            double p0 = rank == 0 ? 1.0 : (double) j / rank;
            double p1 = (double) (j + 1) / (rank + 1);
            ap += (p0 + p1) * recallStep / 2.0;
        }
        return ap;
    }

    /**
     * The benchmark's precision at k: with {@code kq = min(k, ranks[last] + 1)}, the fraction of the first
     * {@code kq} (ignored-removed) positions holding a positive; 0 when no positive was retrieved.
     *
     * @param ranks 0-based, increasing ranks of the retrieved positives (ignored images already removed)
     * @param k     the cut-off, >= 1
     */
    public static double precisionAtK(int[] ranks, int k) {
        if (ranks.length == 0) {
            return 0.0;
        }
        int kq = Math.min(ranks[ranks.length - 1] + 1, k);
        int count = 0;
        for (int r : ranks) {
            if (r + 1 <= kq) count++;
        }
        return (double) count / kq;
    }

    /**
     * Reorders a shortlist before re-ranking (SPEC 7, as the LOCORE/AMES code does following DELG): the images
     * this protocol ignores for the query are moved to the end, every other image and the moved ones keeping
     * their relative order. Medium moves junk; Hard moves junk and easy; Easy (not used by the released
     * recipe) moves junk and hard.
     *
     * @param ranking gallery indices in ranked order (not modified)
     * @param q       the query's ground truth
     * @param p       the protocol
     * @return a new array with the same elements
     */
    public static int[] reorderForProtocol(int[] ranking, GroundTruth.Query q, Protocol p) {
        int[] ignored = p.ignored(q); // sorted, distinct
        boolean[] isIgnored = new boolean[ranking.length];
        int nIgnored = 0;
        for (int r = 0; r < ranking.length; r++) {
            isIgnored[r] = Arrays.binarySearch(ignored, ranking[r]) >= 0;
            if (isIgnored[r]) nIgnored++;
        }
        int[] out = new int[ranking.length];
        int front = 0;
        int back = ranking.length - nIgnored;
        for (int r = 0; r < ranking.length; r++) {
            out[isIgnored[r] ? back++ : front++] = ranking[r];
        }
        return out;
    }
}
