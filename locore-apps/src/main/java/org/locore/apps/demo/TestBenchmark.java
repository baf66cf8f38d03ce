package org.locore.apps.demo;

import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.features.ImageFeatures;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.io.FormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The test split of a synthetic benchmark opened with the project's readers: query, gallery and (optional)
 * distractor local features, the shortlist (gallery ids first, then distractor ids) and the Revisited ground
 * truth. Gallery index {@code i >= galleryImages()} is distractor {@code i - galleryImages()}. Thread-safe for
 * reading (the readers are).
 */
public final class TestBenchmark implements AutoCloseable {
    private final LocalFeatures queries;
    private final LocalFeatures gallery;
    private final LocalFeatures distractors;
    private final Shortlist shortlist;
    private final GroundTruth groundTruth;

    private TestBenchmark(LocalFeatures queries, LocalFeatures gallery, LocalFeatures distractors,
                          Shortlist shortlist, GroundTruth groundTruth) {
        this.queries = queries;
        this.gallery = gallery;
        this.distractors = distractors;
        this.shortlist = shortlist;
        this.groundTruth = groundTruth;
    }

    /**
     * Opens the files of a split laid out as {@link BenchmarkFiles.Split} (distractors when their file exists).
     *
     * @throws FormatException when the files disagree: query counts of shortlist, ground truth and features,
     *                         gallery size of ground truth and features, a shortlist id beyond gallery +
     *                         distractors
     */
    public static TestBenchmark open(BenchmarkFiles.Split split) throws IOException {
        LocalFeatures q = null, g = null, d = null;
        try {
            q = LocalFeatures.open(split.local("query"));
            g = LocalFeatures.open(split.local("gallery"));
            Path dPath = split.local("distractors");
            d = Files.exists(dPath) ? LocalFeatures.open(dPath) : null;
            GroundTruth gnd = GroundTruth.read(split.groundTruth());
            int total = g.numImages() + (d == null ? 0 : d.numImages());
            Shortlist s = ShortlistFile.read(split.shortlist(), total);
            if (s.numQueries() != q.numImages() || gnd.numQueries() != q.numImages()) {
                throw new FormatException(split.shortlist(), s.numQueries() + " shortlist rows and "
                        + gnd.numQueries() + " ground-truth queries, but " + q.file() + " holds " + q.numImages());
            }
            if (gnd.numImages() != g.numImages()) {
                throw new FormatException(split.groundTruth(), "lists " + gnd.numImages() + " gallery images but "
                        + g.file() + " holds " + g.numImages());
            }
            return new TestBenchmark(q, g, d, s, gnd);
        } catch (IOException | RuntimeException e) {
            for (LocalFeatures f : new LocalFeatures[]{q, g, d}) {
                if (f != null) f.close();
            }
            throw e;
        }
    }

    /** Number of queries. */
    public int numQueries() {
        return queries.numImages();
    }

    /** Number of gallery images (without distractors). */
    public int galleryImages() {
        return gallery.numImages();
    }

    /** The global shortlist. */
    public Shortlist shortlist() {
        return shortlist;
    }

    /** The ground truth. */
    public GroundTruth groundTruth() {
        return groundTruth;
    }

    /** All rows of query {@code q}. */
    public ImageFeatures query(int q) throws IOException {
        return queries.read(q);
    }

    /** All rows of gallery image {@code id} (a distractor when {@code id >= galleryImages()}). */
    public ImageFeatures image(int id) throws IOException {
        int n = gallery.numImages();
        return id < n ? gallery.read(id) : distractors.read(id - n);
    }

    /** The global ranking of every query: its shortlist row. */
    public int[][] globalRankings() {
        int[][] r = new int[numQueries()][];
        for (int q = 0; q < r.length; q++) r[q] = shortlist.ids(q);
        return r;
    }

    /**
     * Query {@code q}'s shortlist reordered for a protocol before re-ranking (SPEC 7): the images the protocol
     * ignores moved to the end.
     */
    public int[] reordered(int q, Protocol p) {
        return RevisitedEvaluator.reorderForProtocol(shortlist.ids(q), groundTruth.queries().get(q), p);
    }

    @Override
    public void close() throws IOException {
        try {
            queries.close();
            gallery.close();
        } finally {
            if (distractors != null) distractors.close();
        }
    }
}
