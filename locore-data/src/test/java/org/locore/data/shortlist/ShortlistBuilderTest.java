package org.locore.data.shortlist;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShortlistBuilderTest {

    /** Small integers: every inner product is exact in float whatever the summation order, and ties abound. */
    private static float[] integerData(Random rnd, int n, int dim) {
        float[] x = new float[n * dim];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextInt(5) - 2;
        return x;
    }

    private record Hit(int id, double sim) {
    }

    /** Brute force: all inner products in double, sorted by similarity descending then index ascending. */
    private static List<Hit> bruteForce(float[] q, int qi, float[] g, int ng, int dim, boolean excludeSelf) {
        List<Hit> hits = new ArrayList<>();
        for (int j = 0; j < ng; j++) {
            if (excludeSelf && j == qi) continue;
            double s = 0;
            for (int k = 0; k < dim; k++) s += (double) q[qi * dim + k] * g[j * dim + k];
            hits.add(new Hit(j, s));
        }
        hits.sort(Comparator.comparingDouble((Hit h) -> -h.sim()).thenComparingInt(Hit::id));
        return hits;
    }

    private static void assertExact(float[] q, int nq, float[] g, int ng, int dim, boolean excludeSelf,
                                    NearestNeighbours nn, int expectedM) {
        assertEquals(nq, nn.numQueries());
        assertEquals(expectedM, nn.m());
        for (int i = 0; i < nq; i++) {
            List<Hit> expected = bruteForce(q, i, g, ng, dim, excludeSelf);
            for (int k = 0; k < expectedM; k++) {
                assertEquals(expected.get(k).id(), nn.index(i, k), "query " + i + " rank " + k);
                assertEquals(expected.get(k).sim(), nn.similarity(i, k), 0.0, "query " + i + " rank " + k);
            }
        }
    }

    @Test
    void matchesBruteForceWithTiesAcrossBlocks() {
        Random rnd = new Random(1);
        int dim = 8, nq = 13, ng = 200, m = 10;
        float[] q = integerData(rnd, nq, dim);
        float[] g = integerData(rnd, ng, dim);
        // blocks of 7 gallery rows and batches of 5 queries: partial last block and batch
        NearestNeighbours nn = new ShortlistBuilder(m).withGalleryBlockRows(7).withQueryBatchRows(5)
                .search(q, nq, g, ng, dim);
        assertExact(q, nq, g, ng, dim, false, nn, m);
        // ties really occur at the cut (otherwise the tie rule would be untested)
        boolean tie = false;
        for (int i = 0; i < nq; i++) {
            for (int k = 1; k < m; k++) tie |= nn.similarity(i, k) == nn.similarity(i, k - 1);
        }
        assertTrue(tie, "test data should contain ties");
        // the block size does not change the result
        NearestNeighbours one = new ShortlistBuilder(m).withGalleryBlockRows(ng).withQueryBatchRows(nq)
                .search(q, nq, g, ng, dim);
        assertEquals(java.util.Arrays.toString(nn.indices()), java.util.Arrays.toString(one.indices()));
    }

    @Test
    void allEqualScoresAreOrderedByIndex() {
        int dim = 4, ng = 50, m = 20;
        float[] q = {1, 0, 0, 0};
        float[] g = new float[ng * dim];
        for (int j = 0; j < ng; j++) g[j * dim] = 2; // every score is 2
        NearestNeighbours nn = new ShortlistBuilder(m).withGalleryBlockRows(3).search(q, 1, g, ng, dim);
        for (int k = 0; k < m; k++) {
            assertEquals(k, nn.index(0, k));
            assertEquals(2f, nn.similarity(0, k));
        }
    }

    @Test
    void selfExclusionRemovesTheQueryItself() {
        Random rnd = new Random(2);
        int dim = 6, n = 90, m = 15;
        float[] x = integerData(rnd, n, dim);
        NearestNeighbours nn = new ShortlistBuilder(m).withExcludeSelf(true).withGalleryBlockRows(16)
                .withQueryBatchRows(32).search(x, n, x, n, dim);
        assertExact(x, n, x, n, dim, true, nn, m);
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < m; k++) assertTrue(nn.index(i, k) != i, "query " + i + " lists itself");
        }
    }

    @Test
    void mLargerThanGalleryReturnsEveryCandidate() {
        Random rnd = new Random(3);
        int dim = 5, nq = 4, ng = 6;
        float[] q = integerData(rnd, nq, dim);
        float[] g = integerData(rnd, ng, dim);
        NearestNeighbours nn = new ShortlistBuilder(10).withGalleryBlockRows(4).search(q, nq, g, ng, dim);
        assertExact(q, nq, g, ng, dim, false, nn, ng);
        // with self-exclusion one candidate fewer
        NearestNeighbours self = new ShortlistBuilder(10).withExcludeSelf(true).search(g, ng, g, ng, dim);
        assertExact(g, ng, g, ng, dim, true, self, ng - 1);
    }

    @Test
    void randomFloatsAgreeWithDoubleBruteForce() {
        Random rnd = new Random(4);
        int dim = 64, nq = 20, ng = 1000, m = 50;
        float[] q = new float[nq * dim];
        float[] g = new float[ng * dim];
        for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < g.length; i++) g[i] = (float) rnd.nextGaussian();
        NearestNeighbours nn = new ShortlistBuilder(m).withGalleryBlockRows(300).search(q, nq, g, ng, dim);
        for (int i = 0; i < nq; i++) {
            List<Hit> expected = bruteForce(q, i, g, ng, dim, false);
            for (int k = 0; k < m; k++) {
                // gaps between neighbouring scores of Gaussian data are far above float rounding
                assertEquals(expected.get(k).id(), nn.index(i, k), "query " + i + " rank " + k);
                assertEquals(expected.get(k).sim(), nn.similarity(i, k), 1e-4);
            }
        }
    }

    @Test
    void providerSourcesStreamRowsOnDemand() {
        int dim = 3, ng = 40;
        // gallery row j = (j, 1, 0) generated on demand; query (1, 0, 0): best are the largest j
        DescriptorSource gallery = DescriptorSource.of(ng, dim, (i, dst, off) -> {
            dst[off] = i;
            dst[off + 1] = 1;
            dst[off + 2] = 0;
        });
        DescriptorSource queries = DescriptorSource.of(new float[]{1, 0, 0, 0, 1, 0}, 2, dim);
        NearestNeighbours nn = new ShortlistBuilder(5).withGalleryBlockRows(6).search(queries, gallery);
        for (int k = 0; k < 5; k++) {
            assertEquals(ng - 1 - k, nn.index(0, k));
            assertEquals(ng - 1 - k, nn.similarity(0, k));
            assertEquals(k, nn.index(1, k)); // all scores 1: lowest indices first
        }
        assertEquals(List.of(39, 38, 37, 36, 35), java.util.Arrays.stream(nn.rankings()[0]).boxed().toList());
    }

    @Test
    void buildsAShortlistThatSurvivesTheFileFormat(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        Random rnd = new Random(5);
        int dim = 8, n = 60, m = 12;
        float[] x = integerData(rnd, n, dim);
        ShortlistBuilder b = new ShortlistBuilder(m).withExcludeSelf(true).withGalleryBlockRows(9);
        Shortlist s = b.build(x, n, x, n, dim);
        NearestNeighbours nn = b.search(x, n, x, n, dim);
        assertEquals(n, s.numQueries());
        assertEquals(m, s.length());
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < m; k++) {
                assertEquals(nn.index(i, k), s.id(i, k));
                assertEquals(nn.similarity(i, k), s.similarity(i, k), 0.0);
                if (k > 0) assertTrue(s.similarity(i, k) <= s.similarity(i, k - 1), "descending");
            }
        }
        java.nio.file.Path file = dir.resolve("nn_test.pkl");
        ShortlistFile.write(file, s);
        assertEquals(s, ShortlistFile.read(file));
    }

    @Test
    void aFailingGalleryReadPropagates() {
        DescriptorSource broken = DescriptorSource.of(100, 2, (i, dst, off) -> {
            if (i == 57) throw new java.io.UncheckedIOException(new java.io.IOException("row 57 unreadable"));
            dst[off] = i;
        });
        java.io.UncheckedIOException e = assertThrows(java.io.UncheckedIOException.class, () -> new ShortlistBuilder(3)
                .withGalleryBlockRows(10).search(DescriptorSource.of(new float[]{1, 0}, 1, 2), broken));
        assertEquals("row 57 unreadable", e.getCause().getMessage());
    }

    @Test
    void rejectsMismatchedDimensions() {
        assertThrows(IllegalArgumentException.class,
                () -> new ShortlistBuilder(3).search(new float[4], 1, new float[6], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> new ShortlistBuilder(3).search(
                DescriptorSource.of(new float[4], 1, 4), DescriptorSource.of(new float[6], 2, 3)));
        assertThrows(IllegalArgumentException.class, () -> new ShortlistBuilder(0));
    }
}
