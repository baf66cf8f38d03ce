package org.locore.data.datavec;

import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.shortlist.Shortlist;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * LOCORE training examples (SPEC section 8) as a {@link MultiDataSetIterator}: every image of the training set is
 * a query; its gallery is its top-K shortlist neighbours with the query itself removed, in an order shuffled per
 * example; a gallery image is positive when it shows the same landmark as the query.
 *
 * <p>Examples are numbered 0, 1, 2, ... across epochs: example {@code e} belongs to epoch {@code e / N} and uses
 * query {@code perm_epoch[e % N]}, where each epoch's query order is a seeded shuffle (or the identity). Every
 * random choice depends only on the seed and the example number, so the stream is reproducible and can resume at
 * any example ({@link #seek(long)}) with identical batches. Batches are read ahead on a background thread.
 *
 * <p>Features of each {@link MultiDataSet}, in the order of the model's inputs:
 * {@code query_local [B,D,E], query_scales [B,D] (long), query_mask [B,D] (long, 1 = padding), query_global [B,1,E],
 * gallery_local [B,K,D,E], gallery_scales [B,K,D], gallery_mask [B,K,D], gallery_global [B,K,1,E]}. Labels:
 * {@code positive_mask [B,K]} (long), and per-token labels {@code [B, (1+K)(D+2)]} (float class 0/1, the gallery
 * block's label on its global, local and SEP tokens) with a label mask that is 0 on the query block, as the
 * token cross-entropy loss needs them.
 */
public final class TrainingExampleIterator implements MultiDataSetIterator, AutoCloseable {
    /** Indices of the feature arrays. */
    public static final int QUERY_LOCAL = 0, QUERY_SCALES = 1, QUERY_MASK = 2, QUERY_GLOBAL = 3, GALLERY_LOCAL = 4,
            GALLERY_SCALES = 5, GALLERY_MASK = 6, GALLERY_GLOBAL = 7;

    private final LocalFeatures locals;
    private final GlobalDescriptors globals;
    private final FeatureSet features;
    private final Shortlist shortlist;
    private final int[] labels;
    private final int descriptors;
    private final int gallerySize;
    private final int batchSize;
    private final long seed;
    private final boolean shuffleQueries;
    private final long totalExamples;
    private final int prefetch;
    private final ExecutorService executor;
    private final ArrayDeque<CompletableFuture<MultiDataSet>> ahead = new ArrayDeque<>();
    private long position;
    private long scheduled;
    private MultiDataSetPreProcessor preProcessor;
    private int cachedEpoch = -1;
    private int[] cachedOrder;

    private TrainingExampleIterator(Builder b) {
        this.locals = Objects.requireNonNull(b.locals, "local features");
        this.globals = Objects.requireNonNull(b.globals, "global descriptors");
        this.shortlist = Objects.requireNonNull(b.shortlist, "shortlist");
        this.labels = Objects.requireNonNull(b.labels, "labels").clone();
        this.descriptors = b.descriptors;
        this.gallerySize = b.gallerySize;
        this.batchSize = b.batchSize;
        this.seed = b.seed;
        this.shuffleQueries = b.shuffleQueries;
        this.prefetch = Math.max(0, b.prefetch);
        this.features = new FeatureSet(locals, globals);
        int n = locals.numImages();
        if (labels.length != n || globals.size() != n || shortlist.numQueries() != n) {
            throw new IllegalArgumentException("training set sizes disagree: " + labels.length + " labels, "
                    + n + " images in " + locals.file() + ", " + globals.size() + " globals in " + globals.file()
                    + ", " + shortlist.numQueries() + " shortlist rows");
        }
        if (descriptors < 1 || descriptors > locals.rowsPerImage()) {
            throw new IllegalArgumentException(locals.file() + ": " + descriptors + " descriptors per image asked, "
                    + locals.rowsPerImage() + " stored");
        }
        if (gallerySize < 1 || gallerySize > shortlist.length()) {
            throw new IllegalArgumentException("gallery size " + gallerySize + " but shortlist rows hold "
                    + shortlist.length() + " neighbours");
        }
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be positive");
        this.totalExamples = (long) n * b.epochs;
        this.executor = prefetch > 0 ? Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "locore-training-prefetch");
            t.setDaemon(true);
            return t;
        }) : null;
        seek(b.start);
    }

    /** A builder with the released recipe's defaults (D = 48, K = 100, batch 8, 1 epoch, prefetch 2). */
    public static Builder builder() {
        return new Builder();
    }

    /** Options of a {@link TrainingExampleIterator}. */
    public static final class Builder {
        private LocalFeatures locals;
        private GlobalDescriptors globals;
        private Shortlist shortlist;
        private int[] labels;
        private int descriptors = 48;
        private int gallerySize = 100;
        private int batchSize = 8;
        private long seed = 0;
        private boolean shuffleQueries = true;
        private int epochs = 1;
        private long start = 0;
        private int prefetch = 2;

        public Builder features(LocalFeatures locals, GlobalDescriptors globals) {
            this.locals = locals;
            this.globals = globals;
            return this;
        }

        public Builder shortlist(Shortlist shortlist) {
            this.shortlist = shortlist;
            return this;
        }

        /** Landmark label of every image (equal labels = same landmark). */
        public Builder labels(int[] labels) {
            this.labels = labels;
            return this;
        }

        public Builder descriptors(int d) {
            this.descriptors = d;
            return this;
        }

        public Builder gallerySize(int k) {
            this.gallerySize = k;
            return this;
        }

        public Builder batchSize(int b) {
            this.batchSize = b;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Whether each epoch visits the queries in a seeded random order (default) or in file order. */
        public Builder shuffleQueries(boolean shuffle) {
            this.shuffleQueries = shuffle;
            return this;
        }

        public Builder epochs(int epochs) {
            this.epochs = epochs;
            return this;
        }

        /** The first example to produce (to resume a run). */
        public Builder start(long example) {
            this.start = example;
            return this;
        }

        /** How many batches to read ahead on a background thread (0 = none). */
        public Builder prefetch(int batches) {
            this.prefetch = batches;
            return this;
        }

        public TrainingExampleIterator build() {
            return new TrainingExampleIterator(this);
        }
    }

    /** Total number of examples over all epochs. */
    public long totalExamples() {
        return totalExamples;
    }

    /** The number of the next example {@link #next()} returns (save it to resume). */
    public long position() {
        return position;
    }

    /** Continues from example {@code example} (as if the earlier ones had been consumed). */
    public synchronized void seek(long example) {
        if (example < 0 || example > totalExamples) {
            throw new IllegalArgumentException("example " + example + " out of range [0, " + totalExamples + "]");
        }
        ahead.forEach(f -> f.cancel(false));
        ahead.clear();
        position = example;
        scheduled = example;
    }

    @Override
    public boolean hasNext() {
        return position < totalExamples;
    }

    @Override
    public MultiDataSet next() {
        if (!hasNext()) throw new NoSuchElementException("no more training examples");
        MultiDataSet m;
        if (executor == null) {
            m = build(position, (int) Math.min(batchSize, totalExamples - position));
        } else {
            synchronized (this) {
                while (ahead.size() <= prefetch && scheduled < totalExamples) {
                    long s = scheduled;
                    int n = (int) Math.min(batchSize, totalExamples - s);
                    ahead.add(CompletableFuture.supplyAsync(() -> build(s, n), executor));
                    scheduled += n;
                }
            }
            try {
                m = ahead.poll().get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while reading training examples", e);
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof RuntimeException re) throw re;
                throw new IllegalStateException(c);
            }
        }
        position += m.getFeatures(0).size(0);
        if (preProcessor != null) preProcessor.preProcess(m);
        return m;
    }

    @Override
    public MultiDataSet next(int num) {
        throw new UnsupportedOperationException("the batch size is fixed at construction");
    }

    /** The query of example {@code e}. */
    public int queryOf(long e) {
        int n = locals.numImages();
        int epoch = (int) (e / n);
        int i = (int) (e % n);
        if (!shuffleQueries) return i;
        synchronized (this) {
            if (epoch != cachedEpoch) {
                cachedOrder = permutation(n, new SplittableRandom(mix(seed, -1 - epoch)));
                cachedEpoch = epoch;
            }
            return cachedOrder[i];
        }
    }

    /**
     * The gallery of example {@code e} in the order it is presented: the first K shortlist neighbours of its
     * query other than the query itself, shuffled with a generator seeded by (seed, e).
     */
    public int[] galleryOf(long e) {
        int q = queryOf(e);
        int[] ids = shortlist.ids(q);
        int[] g = new int[gallerySize];
        int n = 0;
        for (int j = 0; j < ids.length && n < gallerySize; j++) {
            if (ids[j] != q) g[n++] = ids[j];
        }
        if (n < gallerySize) {
            throw new IllegalArgumentException("shortlist row " + q + " has only " + n
                    + " neighbours besides the query itself; the gallery size is " + gallerySize);
        }
        for (int id : g) {
            if (id < 0 || id >= locals.numImages()) {
                throw new IllegalArgumentException("shortlist row " + q + " names image " + id + ", out of range [0, "
                        + locals.numImages() + ") of " + locals.file());
            }
        }
        shuffle(g, new SplittableRandom(mix(seed, e)));
        return g;
    }

    private MultiDataSet build(long first, int b) {
        int d = descriptors;
        int k = gallerySize;
        int[] queries = new int[b];
        int[] gallery = new int[b * k];
        long[] positive = new long[b * k];
        for (int i = 0; i < b; i++) {
            queries[i] = queryOf(first + i);
            int[] g = galleryOf(first + i);
            System.arraycopy(g, 0, gallery, i * k, k);
            for (int j = 0; j < k; j++) positive[i * k + j] = labels[g[j]] == labels[queries[i]] ? 1 : 0;
        }
        FeatureSet.Blocks qb = features.read(queries, d);
        FeatureSet.Blocks gb = features.read(gallery, d).grouped(b, k);

        int block = d + 2;
        int tokens = (1 + k) * block;
        float[] tokenLabels = new float[b * tokens];
        float[] tokenMask = new float[b * tokens];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < k; j++) {
                int start = i * tokens + (1 + j) * block;
                Arrays.fill(tokenLabels, start, start + block, positive[i * k + j]);
                Arrays.fill(tokenMask, start, start + block, 1f);
            }
        }
        INDArray[] arrays = {qb.local(), qb.scales(), qb.mask(), qb.global(), gb.local(), gb.scales(), gb.mask(),
                gb.global()};
        INDArray[] labelArrays = {Nd4j.createFromArray(positive).reshape(b, k),
                Nd4j.createFromArray(tokenLabels).reshape(b, tokens)};
        INDArray[] labelMasks = {null, Nd4j.createFromArray(tokenMask).reshape(b, tokens)};
        return new org.nd4j.linalg.dataset.MultiDataSet(arrays, labelArrays, null, labelMasks);
    }

    private static long mix(long seed, long e) {
        long z = seed * 0x9E3779B97F4A7C15L + e;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static int[] permutation(int n, SplittableRandom rng) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        shuffle(p, rng);
        return p;
    }

    private static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    @Override
    public void setPreProcessor(MultiDataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public MultiDataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public void reset() {
        seek(0);
    }

    /** Stops the read-ahead thread. */
    @Override
    public void close() {
        if (executor != null) executor.shutdownNow();
    }
}
