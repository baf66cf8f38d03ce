package org.locore.data.datavec;

import org.junit.jupiter.api.Test;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class QueryIteratorTest {
    private static final int N = 7, ROWS = 20, E = 16, W = 5 + E;

    @Test
    void reordersByProtocolAndReadsTopK() throws IOException {
        float[] local = Fixtures.tensor("hdf5/expected.safetensors", "local").toFloatArray();
        float[] global = Fixtures.tensor("hdf5/expected.safetensors", "global").toFloatArray();
        try (LocalFeatures a = LocalFeatures.open(Fixtures.path("hdf5/local_contiguous.hdf5"));
             LocalFeatures b = LocalFeatures.open(Fixtures.path("hdf5/local_compound.hdf5"));
             GlobalDescriptors ga = GlobalDescriptors.open(Fixtures.path("hdf5/global.pt"), E);
             GlobalDescriptors gb = GlobalDescriptors.open(Fixtures.path("hdf5/global.pt"), E)) {
            FeatureSet queries = new FeatureSet(a, ga);
            // gallery = 7 benchmark images followed by 7 "distractors" (the compound copy)
            FeatureSet gallery = new FeatureSet(a, ga).followedBy(new FeatureSet(b, gb));
            assertEquals(14, gallery.size());
            int[][] ids = new int[N][];
            double[][] sims = new double[N][];
            for (int q = 0; q < N; q++) {
                ids[q] = new int[]{(q + 1) % N, 9, (q + 2) % N, 13, (q + 3) % N, 7};
                sims[q] = new double[]{0.9, 0.8, 0.7, 0.6, 0.5, 0.4};
            }
            Shortlist s = Shortlist.of(sims, ids);
            // query 0: easy {1}, hard {2}, junk {3}
            List<GroundTruth.Query> gq = new java.util.ArrayList<>();
            for (int q = 0; q < N; q++) {
                gq.add(new GroundTruth.Query(null, new int[]{(q + 1) % N}, new int[]{(q + 2) % N},
                        new int[]{(q + 3) % N}, new int[0]));
            }
            GroundTruth gnd = new GroundTruth(List.of("0", "1", "2", "3", "4", "5", "6"),
                    List.of("0", "1", "2", "3", "4", "5", "6"), gq);

            QueryIterator medium = new QueryIterator(queries, gallery, s, gnd, Protocol.MEDIUM, 3, 4);
            QueryIterator.QueryExample m0 = medium.next();
            assertArrayEquals(new int[]{1, 9, 2, 13, 7, 3}, m0.ranking(), "junk (3) moved to the end");
            assertArrayEquals(new double[]{0.9, 0.8, 0.7, 0.6, 0.4, 0.5}, m0.similarities(), "similarities follow their images");
            QueryIterator hard = new QueryIterator(queries, gallery, s, gnd, Protocol.HARD, 3, 4);
            QueryIterator.QueryExample h0 = hard.next();
            assertArrayEquals(new int[]{9, 2, 13, 7, 1, 3}, h0.ranking(), "easy (1) and junk (3) moved to the end");
            assertArrayEquals(new long[]{1, 3, 4, E}, h0.galleryBlocks().local().shape());
            assertEquals(8, h0.inputs().length);
            // top-3 = 9 (distractor = compound image 2, float16 descriptors), 2, 13 (distractor image 6)
            float[] f16 = Fixtures.tensor("hdf5/expected.safetensors", "local_f16").toFloatArray();
            assertEquals(f16[(2 * ROWS + 1) * W + 5 + 3], h0.galleryBlocks().local().getFloat(0, 0, 1, 3), 0f);
            assertEquals(local[(2 * ROWS + 1) * W + 5 + 3], h0.galleryBlocks().local().getFloat(0, 1, 1, 3), 0f);
            assertEquals(f16[(6 * ROWS) * W + 5], h0.galleryBlocks().local().getFloat(0, 2, 0, 0), 0f);
            assertEquals(global[6 * E + 2], h0.galleryBlocks().global().getFloat(0, 2, 0, 2), 0f);
            assertEquals(local[3 * W + 5 + 1], h0.queryBlocks().local().getFloat(0, 3, 1), 0f);
            // no protocol: the shortlist order
            QueryIterator plain = new QueryIterator(queries, gallery, s, null, null, 6, 2);
            int n = 0;
            while (plain.hasNext()) {
                QueryIterator.QueryExample x = plain.next();
                assertArrayEquals(ids[x.query()], x.ranking());
                n++;
            }
            assertEquals(N, n);
            assertFalse(plain.hasNext());
            // mismatches are reported
            assertThrows(IllegalArgumentException.class, () -> new QueryIterator(queries, queries, s, null, null, 3, 4));
            assertThrows(IllegalArgumentException.class, () -> new QueryIterator(queries, gallery, s, null, Protocol.HARD, 3, 4));
            assertThrows(IllegalArgumentException.class, () -> new QueryIterator(queries, gallery, s, null, null, 7, 4));
        }
    }
}
