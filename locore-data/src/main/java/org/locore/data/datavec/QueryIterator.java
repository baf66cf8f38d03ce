package org.locore.data.datavec;

import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * Evaluation input: for each query, its features and the features of the top-k images of its shortlist. With a
 * ground truth and a Revisited protocol, the shortlist is first reordered as the benchmark's re-ranking protocol
 * requires (SPEC section 7: junk to the end for Medium; junk and easy to the end for Hard), keeping relative order.
 * The gallery may be a benchmark's images followed by distractors ({@link FeatureSet#followedBy}).
 */
public final class QueryIterator implements Iterator<QueryIterator.QueryExample> {
    private final FeatureSet queries;
    private final FeatureSet gallery;
    private final Shortlist shortlist;
    private final GroundTruth groundTruth;
    private final Protocol protocol;
    private final int top;
    private final int descriptors;
    private int next;

    /**
     * @param queries     the query images (query i = shortlist row i)
     * @param gallery     the gallery images the shortlist indexes
     * @param shortlist   one ranked row per query
     * @param groundTruth ground truth for the protocol reordering, or null for none
     * @param protocol    the protocol whose ignored images move to the end, or null for none
     * @param top         how many leading images of each (reordered) row to read (k)
     * @param descriptors rows per image (D)
     */
    public QueryIterator(FeatureSet queries, FeatureSet gallery, Shortlist shortlist, GroundTruth groundTruth,
                         Protocol protocol, int top, int descriptors) {
        this.queries = Objects.requireNonNull(queries);
        this.gallery = Objects.requireNonNull(gallery);
        this.shortlist = Objects.requireNonNull(shortlist);
        this.groundTruth = groundTruth;
        this.protocol = protocol;
        this.top = top;
        this.descriptors = descriptors;
        if (shortlist.numQueries() != queries.size()) {
            throw new IllegalArgumentException("the shortlist has " + shortlist.numQueries() + " rows but "
                    + queries.files() + " holds " + queries.size() + " queries");
        }
        if (protocol != null && (groundTruth == null || groundTruth.numQueries() != queries.size())) {
            throw new IllegalArgumentException("protocol reordering needs a ground truth with " + queries.size()
                    + " queries" + (groundTruth == null ? "" : ", it has " + groundTruth.numQueries()));
        }
        if (top < 1 || top > shortlist.length()) {
            throw new IllegalArgumentException("top " + top + " but shortlist rows hold " + shortlist.length());
        }
        if (descriptors < 1 || descriptors > Math.min(queries.rowsPerImage(), gallery.rowsPerImage())) {
            throw new IllegalArgumentException(descriptors + " descriptors per image asked; the files hold "
                    + Math.min(queries.rowsPerImage(), gallery.rowsPerImage()));
        }
        if (shortlist.maxId() >= gallery.size()) {
            throw new IllegalArgumentException("the shortlist names gallery image " + shortlist.maxId()
                    + " but " + gallery.files() + " holds " + gallery.size());
        }
    }

    /**
     * One query's re-ranking input.
     *
     * @param query        query index
     * @param ranking      the full shortlist row after protocol reordering (gallery ids)
     * @param similarities the global similarities aligned with {@code ranking}
     * @param top          k: how many leading entries the arrays hold
     * @param queryBlocks  the query's arrays ({@code [1, D, E]}, {@code [1, D]}, {@code [1, D]}, {@code [1, 1, E]})
     * @param galleryBlocks the top-k images' arrays ({@code [1, k, D, E]}, ...)
     */
    public record QueryExample(int query, int[] ranking, double[] similarities, int top, FeatureSet.Blocks queryBlocks,
                               FeatureSet.Blocks galleryBlocks) {
        /** The 8 model inputs in the order of the LOCORE fixtures and of {@link TrainingExampleIterator}. */
        public INDArray[] inputs() {
            return new INDArray[]{queryBlocks.local(), queryBlocks.scales(), queryBlocks.mask(), queryBlocks.global(),
                    galleryBlocks.local(), galleryBlocks.scales(), galleryBlocks.mask(), galleryBlocks.global()};
        }
    }

    /** The (reordered) ranking and similarities of a query, without reading features. */
    public QueryExample ranking(int q) {
        int[] ids = shortlist.ids(q);
        double[] sims = shortlist.similarities(q);
        if (protocol != null) {
            int[] order = RevisitedEvaluator.reorderForProtocol(positions(ids.length), new GroundTruth.Query(null,
                    map(ids, groundTruth.queries().get(q).easy()), map(ids, groundTruth.queries().get(q).hard()),
                    map(ids, groundTruth.queries().get(q).junk()), new int[0]), protocol);
            int[] ri = new int[ids.length];
            double[] rs = new double[ids.length];
            for (int i = 0; i < order.length; i++) {
                ri[i] = ids[order[i]];
                rs[i] = sims[order[i]];
            }
            ids = ri;
            sims = rs;
        }
        return new QueryExample(q, ids, sims, top, null, null);
    }

    /** Positions 0..n-1, reordered in place of ids so that similarities follow their images. */
    private static int[] positions(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        return p;
    }

    /** The positions in {@code ids} of the images in {@code set}. */
    private static int[] map(int[] ids, int[] set) {
        java.util.Set<Integer> s = new java.util.HashSet<>();
        for (int x : set) s.add(x);
        return java.util.stream.IntStream.range(0, ids.length).filter(i -> s.contains(ids[i])).toArray();
    }

    /** Reads query {@code q}: its reordered ranking and the features of its top-k. */
    public QueryExample read(int q) {
        QueryExample r = ranking(q);
        int[] topIds = java.util.Arrays.copyOf(r.ranking(), top);
        return new QueryExample(q, r.ranking(), r.similarities(), top, queries.read(new int[]{q}, descriptors),
                gallery.read(topIds, descriptors).grouped(1, top));
    }

    @Override
    public boolean hasNext() {
        return next < queries.size();
    }

    @Override
    public QueryExample next() {
        if (!hasNext()) throw new NoSuchElementException("no more queries");
        return read(next++);
    }

    /** Starts again from the first query. */
    public void reset() {
        next = 0;
    }
}
