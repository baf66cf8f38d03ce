package org.locore.data.shortlist;

import org.locore.model.rowops.BlasLibrary;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.FloatBuffer;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/**
 * Exact inner-product k-NN (SPEC 1, step 2): for every query global descriptor, the M gallery descriptors with
 * the largest inner product, similarities descending, ties broken by the lower gallery index.
 * <p>
 * The gallery is streamed in blocks of {@link #galleryBlockRows()} rows, read by one background thread one block
 * ahead (so {@link DescriptorSource#getRows} is called from that thread, one call at a time); each block is
 * multiplied with a batch of {@link #queryBatchRows()} queries by one ND4J matrix product and the scores are
 * merged into one bounded heap per query. Memory is {@code O(batch * block + numQueries * M)}: no {@code numQueries x N} score matrix is
 * formed, so a 1,000,000 x 768 memory-mapped gallery works. With self-exclusion (training sets, where query
 * {@code i} is gallery image {@code i}), gallery index {@code i} is never a neighbour of query {@code i}.
 * <p>
 * When fewer than M candidates exist, every query gets {@code min(M, N - (excludeSelf ? 1 : 0))} neighbours.
 * Instances are immutable; the {@code with...} methods return modified copies.
 */
public final class ShortlistBuilder {
    private static final Logger LOG = LoggerFactory.getLogger(ShortlistBuilder.class);

    /** Shortlist length of the released recipe. */
    public static final int DEFAULT_M = 1600;

    /** Per-thread copy of one row of scores. */
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    private final int m;
    private final boolean excludeSelf;
    private final int galleryBlockRows;
    private final int queryBatchRows;

    /**
     * @param m neighbours per query, >= 1
     */
    public ShortlistBuilder(int m) {
        this(m, false, 8192, 2048);
    }

    private ShortlistBuilder(int m, boolean excludeSelf, int galleryBlockRows, int queryBatchRows) {
        if (m < 1) throw new IllegalArgumentException("M must be >= 1, got " + m);
        if (galleryBlockRows < 1) throw new IllegalArgumentException("gallery block rows must be >= 1");
        if (queryBatchRows < 1) throw new IllegalArgumentException("query batch rows must be >= 1");
        this.m = m;
        this.excludeSelf = excludeSelf;
        this.galleryBlockRows = galleryBlockRows;
        this.queryBatchRows = queryBatchRows;
    }

    /** A copy that removes gallery index {@code i} from the list of query {@code i} when {@code exclude}. */
    public ShortlistBuilder withExcludeSelf(boolean exclude) {
        return new ShortlistBuilder(m, exclude, galleryBlockRows, queryBatchRows);
    }

    /** A copy that streams the gallery in blocks of {@code rows} rows. */
    public ShortlistBuilder withGalleryBlockRows(int rows) {
        return new ShortlistBuilder(m, excludeSelf, rows, queryBatchRows);
    }

    /** A copy that multiplies {@code rows} queries at a time. */
    public ShortlistBuilder withQueryBatchRows(int rows) {
        return new ShortlistBuilder(m, excludeSelf, galleryBlockRows, rows);
    }

    /** Neighbours per query requested. */
    public int m() {
        return m;
    }

    /** Whether query {@code i} never lists gallery index {@code i}. */
    public boolean excludeSelf() {
        return excludeSelf;
    }

    /** Gallery rows per block. */
    public int galleryBlockRows() {
        return galleryBlockRows;
    }

    /** Queries per matrix product. */
    public int queryBatchRows() {
        return queryBatchRows;
    }

    /** Neighbours per query actually returned for a gallery of {@code n} images. */
    public int effectiveM(int n) {
        return Math.max(0, Math.min(m, n - (excludeSelf ? 1 : 0)));
    }

    /**
     * Builds the shortlist of every query of a query source against a gallery source (see
     * {@link #search(DescriptorSource, DescriptorSource)}), ready for {@link ShortlistFile#write}.
     */
    public Shortlist build(DescriptorSource queries, DescriptorSource gallery) {
        return search(queries, gallery).toShortlist();
    }

    /**
     * Builds the shortlist of row-major query descriptors against row-major gallery descriptors
     * ({@code [nq, dim]} and {@code [ng, dim]}).
     */
    public Shortlist build(float[] queries, int nq, float[] gallery, int ng, int dim) {
        return search(queries, nq, gallery, ng, dim).toShortlist();
    }

    /**
     * Searches row-major arrays.
     *
     * @param queries {@code [nq, dim]} query descriptors
     * @param nq      number of queries
     * @param gallery {@code [ng, dim]} gallery descriptors
     * @param ng      number of gallery images
     * @param dim     descriptor length
     */
    public NearestNeighbours search(float[] queries, int nq, float[] gallery, int ng, int dim) {
        return search(DescriptorSource.of(queries, nq, dim), DescriptorSource.of(gallery, ng, dim));
    }

    /**
     * Searches a gallery source for every query of a query source.
     *
     * @throws IllegalArgumentException when the descriptor lengths differ
     */
    public NearestNeighbours search(DescriptorSource queries, DescriptorSource gallery) {
        Objects.requireNonNull(queries, "queries");
        Objects.requireNonNull(gallery, "gallery");
        int d = queries.dim();
        if (gallery.dim() != d) {
            throw new IllegalArgumentException("query descriptors have length " + d + " but gallery descriptors "
                    + gallery.dim());
        }
        int nq = queries.size();
        int ng = gallery.size();
        int mEff = effectiveM(ng);
        float[] sims = new float[Math.multiplyExact(nq, mEff)];
        int[] ids = new int[nq * mEff];
        int[] sizes = new int[nq];
        if (mEff == 0 || nq == 0) {
            return new NearestNeighbours(nq, mEff, sims, ids);
        }
        int qb = Math.min(queryBatchRows, nq);
        int gb = Math.min(galleryBlockRows, ng);
        int numBlocks = (ng + gb - 1) / gb;
        float[] qBuf = new float[qb * d];
        // double buffer: a background thread reads gallery block k + 1 while block k is multiplied and merged
        float[][] gBufs = {new float[gb * d], new float[gb * d]};
        ExecutorService reader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "shortlist-gallery-reader");
            t.setDaemon(true);
            return t;
        });
        // the merge runs on Java threads right after each GEMM: MKL's threads must not spin meanwhile
        BlasLibrary.sleepAfterGemms();
        long t0 = System.nanoTime();
        long waitNs = 0, gemmNs = 0, mergeNs = 0;
        try {
            for (int q0 = 0; q0 < nq; q0 += qb) {
                int qn = Math.min(qb, nq - q0);
                queries.getRows(q0, qn, qBuf, 0);
                INDArray qArr = Nd4j.create(DataType.FLOAT, qn, d);
                qArr.data().asNioFloat().put(qBuf, 0, qn * d);
                INDArray gArr = null;
                INDArray scores = null;
                Future<?> pending = readBlock(reader, gallery, 0, gb, ng, gBufs[0]);
                for (int blk = 0; blk < numBlocks; blk++) {
                    int g0 = blk * gb;
                    int gn = Math.min(gb, ng - g0);
                    long a = System.nanoTime();
                    await(pending);
                    float[] gBuf = gBufs[blk & 1];
                    pending = blk + 1 < numBlocks
                            ? readBlock(reader, gallery, (blk + 1) * gb, gb, ng, gBufs[(blk + 1) & 1]) : null;
                    if (gArr == null || gArr.rows() != gn) {
                        gArr = Nd4j.create(DataType.FLOAT, gn, d);
                        scores = Nd4j.create(DataType.FLOAT, qn, gn);
                    }
                    gArr.data().asNioFloat().put(gBuf, 0, gn * d);
                    long b = System.nanoTime();
                    Nd4j.gemm(qArr, gArr, scores, false, true, 1.0, 0.0);
                    long c = System.nanoTime();
                    merge(scores.data().asNioFloat(), qn, gn, q0, g0, mEff, sims, ids, sizes);
                    long e = System.nanoTime();
                    waitNs += b - a;
                    gemmNs += c - b;
                    mergeNs += e - c;
                }
                LOG.debug("shortlist: {} / {} queries, {} s", q0 + qn, nq, (System.nanoTime() - t0) / 1e9);
            }
        } finally {
            reader.shutdownNow();
        }
        LOG.debug("shortlist: waiting for gallery reads {} s, gemm {} s, merge {} s", waitNs / 1e9, gemmNs / 1e9, mergeNs / 1e9);
        IntStream.range(0, nq).parallel().forEach(q -> sortDescending(sims, ids, q * mEff, mEff));
        return new NearestNeighbours(nq, mEff, sims, ids);
    }

    private static Future<?> readBlock(ExecutorService reader, DescriptorSource gallery, int g0, int gb, int ng,
                                       float[] dst) {
        int gn = Math.min(gb, ng - g0);
        return reader.submit(() -> gallery.getRows(g0, gn, dst, 0));
    }

    /** Waits for a gallery read, rethrowing what it threw. */
    private static void await(Future<?> f) {
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading gallery descriptors", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) throw re;
            if (cause instanceof Error err) throw err;
            throw new IllegalStateException("reading gallery descriptors failed", cause);
        }
    }

    /** Merges a {@code [qn, gn]} score block into the heaps of queries {@code q0 ..}. */
    private void merge(FloatBuffer scores, int qn, int gn, int q0, int g0, int mEff, float[] sims, int[] ids,
                       int[] sizes) {
        IntStream.range(0, qn).parallel().forEach(r -> {
            int q = q0 + r;
            int base = q * mEff;
            int size = sizes[q];
            float[] row = ROW.get();
            if (row.length < gn) {
                row = new float[gn];
                ROW.set(row);
            }
            scores.duplicate().position(r * gn).get(row, 0, gn);
            for (int c = 0; c < gn; c++) {
                int id = g0 + c;
                if (excludeSelf && id == q) continue;
                float s = row[c];
                if (size < mEff) {
                    siftUp(sims, ids, base, size, s, id);
                    size++;
                } else if (better(s, id, sims[base], ids[base])) {
                    siftDown(sims, ids, base, mEff, s, id);
                }
            }
            sizes[q] = size;
        });
    }

    /** Whether (s1, id1) ranks before (s2, id2): higher similarity, then lower index. */
    private static boolean better(float s1, int id1, float s2, int id2) {
        return s1 > s2 || (s1 == s2 && id1 < id2);
    }

    // Min-heap of the worst-ranked entry at the root, stored at sims/ids[base .. base + size).
    private static void siftUp(float[] sims, int[] ids, int base, int pos, float s, int id) {
        while (pos > 0) {
            int parent = (pos - 1) >>> 1;
            if (!better(sims[base + parent], ids[base + parent], s, id)) break;
            sims[base + pos] = sims[base + parent];
            ids[base + pos] = ids[base + parent];
            pos = parent;
        }
        sims[base + pos] = s;
        ids[base + pos] = id;
    }

    /** Replaces the root with (s, id) and restores the heap of {@code size} entries. */
    private static void siftDown(float[] sims, int[] ids, int base, int size, float s, int id) {
        int pos = 0;
        while (true) {
            int child = 2 * pos + 1;
            if (child >= size) break;
            int right = child + 1;
            if (right < size && better(sims[base + child], ids[base + child], sims[base + right], ids[base + right])) {
                child = right; // the worse of the two children
            }
            if (!better(s, id, sims[base + child], ids[base + child])) break;
            sims[base + pos] = sims[base + child];
            ids[base + pos] = ids[base + child];
            pos = child;
        }
        sims[base + pos] = s;
        ids[base + pos] = id;
    }

    /** Heap-sorts one query's heap in place into best-first order. */
    private static void sortDescending(float[] sims, int[] ids, int base, int size) {
        for (int end = size - 1; end > 0; end--) {
            float s = sims[base + end];
            int id = ids[base + end];
            // move the current worst (root) to the end
            sims[base + end] = sims[base];
            ids[base + end] = ids[base];
            siftDown(sims, ids, base, end, s, id);
        }
    }
}
