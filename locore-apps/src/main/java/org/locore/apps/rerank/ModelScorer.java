package org.locore.apps.rerank;

import org.locore.data.datavec.FeatureSet;
import org.locore.model.locore.LocoreInputs;
import org.locore.model.locore.LocoreModel;
import org.locore.model.locore.ScoreMode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link SlidingReranker.Scorer} backed by the LOCORE model: each query's blocks (query and its top-N gallery
 * images, as {@link FeatureSet#read} or {@code QueryIterator} give them) are registered with {@link #put}; a call
 * builds one {@link LocoreInputs} batch from the windows (one sequence per window, gallery blocks in window order)
 * and runs one forward pass, returning the per-image scores of the chosen {@link ScoreMode}.
 * <p>
 * Not thread-safe (the model is not).
 */
public final class ModelScorer implements SlidingReranker.Scorer {
    private final LocoreModel model;
    private final ScoreMode mode;
    private final Map<Integer, Entry> entries = new HashMap<>();
    private long forwards;
    private long sequences;

    private record Entry(int d, int e, int n, float[] qLocal, long[] qScales, long[] qMask, float[] qGlobal,
                         float[] gLocal, long[] gScales, long[] gMask, float[] gGlobal) {
    }

    /**
     * @param model the re-ranker
     * @param mode  which token scores an image ({@link ScoreMode#MAX_END} for LOCORE)
     */
    public ModelScorer(LocoreModel model, ScoreMode mode) {
        this.model = Objects.requireNonNull(model, "model");
        this.mode = Objects.requireNonNull(mode, "mode");
    }

    /**
     * Registers a query's blocks.
     *
     * @param query   the query id used in {@link SlidingReranker.Window}
     * @param queryB  the query's arrays ({@code local [1, D, E]}, {@code scales [1, D]}, {@code mask [1, D]},
     *                {@code global [1, 1, E]})
     * @param gallery the arrays of the gallery images indexed by window position: {@code local [N, D, E]} or
     *                {@code [1, N, D, E]}, and the matching scales, mask and global arrays
     */
    public void put(int query, FeatureSet.Blocks queryB, FeatureSet.Blocks gallery) {
        long[] gs = gallery.local().shape();
        int n = (int) (gs.length == 4 ? gs[1] : gs[0]);
        int d = (int) queryB.local().size(1);
        int e = (int) queryB.local().size(2);
        if (gallery.local().length() != (long) n * d * e) {
            throw new IllegalArgumentException("gallery blocks of shape " + java.util.Arrays.toString(gs)
                    + " do not match the query's " + d + " x " + e);
        }
        entries.put(query, new Entry(d, e, n, floats(queryB.local()), longs(queryB.scales()), longs(queryB.mask()),
                floats(queryB.global()), floats(gallery.local()), longs(gallery.scales()), longs(gallery.mask()),
                floats(gallery.global())));
    }

    /** Forgets a query's blocks. */
    public void remove(int query) {
        entries.remove(query);
    }

    /** Forward passes run so far. */
    public long forwards() {
        return forwards;
    }

    /** Sequences (windows) scored so far. */
    public long sequences() {
        return sequences;
    }

    private static float[] floats(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    private static long[] longs(INDArray a) {
        return a.castTo(DataType.LONG).dup('c').data().asLong();
    }

    /** The model inputs of a batch of windows (all of the same size). */
    public LocoreInputs inputs(List<SlidingReranker.Window> windows) {
        int b = windows.size();
        int k = windows.get(0).positions().length;
        Entry first = entry(windows.get(0).query());
        int d = first.d();
        int e = first.e();
        float[] qLocal = new float[b * d * e];
        long[] qScales = new long[b * d];
        long[] qMask = new long[b * d];
        float[] qGlobal = new float[b * e];
        float[] gLocal = new float[b * k * d * e];
        long[] gScales = new long[b * k * d];
        long[] gMask = new long[b * k * d];
        float[] gGlobal = new float[b * k * e];
        for (int r = 0; r < b; r++) {
            SlidingReranker.Window w = windows.get(r);
            Entry en = entry(w.query());
            if (en.d() != d || en.e() != e || w.positions().length != k) {
                throw new IllegalArgumentException("windows of one batch differ in size");
            }
            System.arraycopy(en.qLocal(), 0, qLocal, r * d * e, d * e);
            System.arraycopy(en.qScales(), 0, qScales, r * d, d);
            System.arraycopy(en.qMask(), 0, qMask, r * d, d);
            System.arraycopy(en.qGlobal(), 0, qGlobal, r * e, e);
            for (int j = 0; j < k; j++) {
                int p = w.positions()[j];
                if (p < 0 || p >= en.n()) {
                    throw new IllegalArgumentException("query " + w.query() + ": position " + p + " outside its "
                            + en.n() + " gallery blocks");
                }
                int slot = r * k + j;
                System.arraycopy(en.gLocal(), p * d * e, gLocal, slot * d * e, d * e);
                System.arraycopy(en.gScales(), p * d, gScales, slot * d, d);
                System.arraycopy(en.gMask(), p * d, gMask, slot * d, d);
                System.arraycopy(en.gGlobal(), p * e, gGlobal, slot * e, e);
            }
        }
        return new LocoreInputs(Nd4j.createFromArray(qLocal).reshape(b, d, e),
                Nd4j.createFromArray(qScales).reshape(b, d), Nd4j.createFromArray(qMask).reshape(b, d),
                Nd4j.createFromArray(qGlobal).reshape(b, 1, e), Nd4j.createFromArray(gLocal).reshape(b, k, d, e),
                Nd4j.createFromArray(gScales).reshape(b, k, d), Nd4j.createFromArray(gMask).reshape(b, k, d),
                Nd4j.createFromArray(gGlobal).reshape(b, k, 1, e), null);
    }

    private Entry entry(int query) {
        Entry en = entries.get(query);
        if (en == null) throw new IllegalArgumentException("no blocks registered for query " + query);
        return en;
    }

    @Override
    public float[][] score(List<SlidingReranker.Window> windows) {
        INDArray s = model.forward(inputs(windows)).scores(mode);
        forwards++;
        sequences += windows.size();
        float[][] out = new float[windows.size()][];
        for (int r = 0; r < out.length; r++) {
            out[r] = s.getRow(r).dup().data().asFloat();
        }
        return out;
    }
}
