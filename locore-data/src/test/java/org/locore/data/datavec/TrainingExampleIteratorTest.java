package org.locore.data.datavec;

import org.junit.jupiter.api.Test;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.shortlist.Shortlist;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainingExampleIteratorTest {
    private static final int N = 7, ROWS = 20, E = 16, W = 5 + E;
    private static final int D = 3, K = 4, B = 3;
    private static final int[] LABELS = {0, 0, 1, 1, 0, 2, 1};

    /** Neighbours of every image: all others by distance |i-j| (ties to the lower id), some rows listing the query itself first. */
    private static Shortlist shortlist() {
        int m = N;
        double[][] sims = new double[N][m];
        int[][] ids = new int[N][m];
        for (int q = 0; q < N; q++) {
            final int qq = q;
            Integer[] order = new Integer[N];
            for (int j = 0; j < N; j++) order[j] = j;
            Arrays.sort(order, (a, b) -> {
                int da = Math.abs(a - qq), db = Math.abs(b - qq);
                return da != db ? Integer.compare(da, db) : Integer.compare(a, b);
            });
            for (int j = 0; j < m; j++) {
                ids[q][j] = order[j];
                sims[q][j] = 1.0 - 0.1 * j;
            }
        }
        return Shortlist.of(sims, ids);
    }

    private TrainingExampleIterator.Builder builder(LocalFeatures lf, GlobalDescriptors g) {
        return TrainingExampleIterator.builder().features(lf, g).shortlist(shortlist()).labels(LABELS)
                .descriptors(D).gallerySize(K).batchSize(B).seed(42).epochs(2);
    }

    @Test
    void examplesFollowTheRecipe() throws IOException {
        float[] local = Fixtures.tensor("hdf5/expected.safetensors", "local").toFloatArray();
        float[] global = Fixtures.tensor("hdf5/expected.safetensors", "global").toFloatArray();
        Shortlist s = shortlist();
        try (LocalFeatures lf = LocalFeatures.open(Fixtures.path("hdf5/local_contiguous.hdf5"));
             GlobalDescriptors g = GlobalDescriptors.open(Fixtures.path("hdf5/global.pt"), E);
             TrainingExampleIterator it = builder(lf, g).build()) {
            assertEquals(2L * N, it.totalExamples());
            long e = 0;
            boolean someReordered = false;
            Set<Integer> epoch0 = new HashSet<>();
            while (it.hasNext()) {
                MultiDataSet m = it.next();
                int b = (int) m.getFeatures(0).size(0);
                assertEquals(Math.min(B, 2 * N - e), b);
                assertEquals(8, m.getFeatures().length);
                int tokens = (1 + K) * (D + 2);
                assertArrayEquals(new long[]{b, K, D, E}, m.getFeatures(TrainingExampleIterator.GALLERY_LOCAL).shape());
                assertArrayEquals(new long[]{b, tokens}, m.getLabels(1).shape());
                for (int i = 0; i < b; i++, e++) {
                    int q = it.queryOf(e);
                    if (e < N) epoch0.add(q);
                    int[] gal = it.galleryOf(e);
                    // gallery = first K neighbours other than the query, as a set, in a shuffled order
                    int[] expected = Arrays.stream(s.ids(q)).filter(x -> x != q).limit(K).toArray();
                    assertEquals(set(expected), set(gal));
                    if (!Arrays.equals(expected, gal)) someReordered = true;
                    for (int r = 0; r < D; r++) {
                        int p = (q * ROWS + r) * W;
                        assertEquals(local[p + 5], m.getFeatures(TrainingExampleIterator.QUERY_LOCAL).getFloat(i, r, 0));
                        assertEquals(local[p + 3], m.getFeatures(TrainingExampleIterator.QUERY_MASK).getLong(i, r), 0);
                    }
                    assertEquals(global[q * E + 7], m.getFeatures(TrainingExampleIterator.QUERY_GLOBAL).getFloat(i, 0, 7));
                    for (int j = 0; j < K; j++) {
                        int gi = gal[j];
                        int p = (gi * ROWS + D - 1) * W;
                        assertEquals(local[p + 5 + E - 1], m.getFeatures(TrainingExampleIterator.GALLERY_LOCAL).getFloat(i, j, D - 1, E - 1));
                        assertEquals(local[p + 2], m.getFeatures(TrainingExampleIterator.GALLERY_SCALES).getLong(i, j, D - 1), 0);
                        assertEquals(global[gi * E], m.getFeatures(TrainingExampleIterator.GALLERY_GLOBAL).getFloat(i, j, 0, 0));
                        long pos = LABELS[gi] == LABELS[q] ? 1 : 0;
                        assertEquals(pos, m.getLabels(0).getLong(i, j));
                        for (int t = 0; t < D + 2; t++) {
                            int tok = (1 + j) * (D + 2) + t;
                            assertEquals(pos, m.getLabels(1).getFloat(i, tok), 0f);
                            assertEquals(1f, m.getLabelsMaskArray(1).getFloat(i, tok), 0f);
                        }
                    }
                    for (int t = 0; t < D + 2; t++) assertEquals(0f, m.getLabelsMaskArray(1).getFloat(i, t), 0f);
                }
            }
            assertEquals(2L * N, e);
            assertEquals(N, epoch0.size(), "every image is a query once per epoch");
            assertTrue(someReordered, "gallery order is shuffled");
            assertEquals(2L * N, it.position());
        }
    }

    @Test
    void reproducibleAndResumable() throws IOException {
        try (LocalFeatures lf = LocalFeatures.open(Fixtures.path("hdf5/local_chunked.hdf5"));
             GlobalDescriptors g = GlobalDescriptors.open(Fixtures.path("hdf5/global.pt"), E)) {
            List<MultiDataSet> full = drain(builder(lf, g).prefetch(0).build());
            List<MultiDataSet> prefetched = drain(builder(lf, g).prefetch(3).build());
            assertEquals(full.size(), prefetched.size());
            for (int i = 0; i < full.size(); i++) assertSame(full.get(i), prefetched.get(i));
            // resume at example 6 (= batch 2) gives the remaining batches unchanged
            List<MultiDataSet> resumed = drain(builder(lf, g).start(6).build());
            assertEquals(full.size() - 2, resumed.size());
            for (int i = 0; i < resumed.size(); i++) assertSame(full.get(i + 2), resumed.get(i));
            // seek on a live iterator too
            TrainingExampleIterator it = builder(lf, g).build();
            it.next();
            it.seek(3);
            assertSame(full.get(1), it.next());
            it.close();
            // another seed shuffles differently
            TrainingExampleIterator other = builder(lf, g).seed(7).build();
            TrainingExampleIterator same = builder(lf, g).build();
            boolean differs = false;
            for (long e = 0; e < 2L * N; e++) differs |= !Arrays.equals(other.galleryOf(e), same.galleryOf(e));
            assertTrue(differs);
            other.close();
            same.close();
        }
    }

    @Test
    void inconsistentInputsAreRejected() throws IOException {
        try (LocalFeatures lf = LocalFeatures.open(Fixtures.path("hdf5/local_contiguous.hdf5"));
             GlobalDescriptors g = GlobalDescriptors.open(Fixtures.path("hdf5/global.pt"), E)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> builder(lf, g).labels(new int[]{0, 1}).build());
            assertTrue(e.getMessage().contains("2 labels"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> builder(lf, g).gallerySize(N + 1).build());
            assertTrue(e.getMessage().contains("gallery size"), e.getMessage());
            // a gallery of all 7 neighbours needs 7 others besides the query: only 6 exist
            TrainingExampleIterator it = builder(lf, g).gallerySize(N).prefetch(0).build();
            e = assertThrows(IllegalArgumentException.class, it::next);
            assertTrue(e.getMessage().contains("besides the query"), e.getMessage());
            it.close();
        }
    }

    private static Set<Integer> set(int[] a) {
        Set<Integer> s = new HashSet<>();
        for (int x : a) s.add(x);
        return s;
    }

    private static List<MultiDataSet> drain(TrainingExampleIterator it) {
        List<MultiDataSet> out = new ArrayList<>();
        while (it.hasNext()) out.add(it.next());
        assertFalse(it.hasNext());
        it.close();
        return out;
    }

    private static void assertSame(MultiDataSet a, MultiDataSet b) {
        for (int i = 0; i < a.getFeatures().length; i++) assertEquals(a.getFeatures(i), b.getFeatures(i), "feature " + i);
        for (int i = 0; i < a.getLabels().length; i++) assertEquals(a.getLabels(i), b.getLabels(i), "label " + i);
        INDArray m1 = a.getLabelsMaskArray(1), m2 = b.getLabelsMaskArray(1);
        assertEquals(m1, m2);
        assertNotEquals(null, m1);
    }
}
