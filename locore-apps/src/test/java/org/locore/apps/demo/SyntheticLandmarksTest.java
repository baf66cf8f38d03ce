package org.locore.apps.demo;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.ImageFeatures;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.ImageList;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generator writes consistent files in the real formats, reproducibly, with the intended difficulty. */
class SyntheticLandmarksTest {
    @TempDir
    Path tmp;

    private static final SyntheticLandmarks.Config SMALL = SyntheticLandmarks.Config.small();

    private BenchmarkFiles generate(String name, SyntheticLandmarks.Config c) throws IOException {
        BenchmarkFiles f = new BenchmarkFiles(tmp.resolve(name));
        new SyntheticLandmarks(c).generate(f);
        return f;
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherData() throws IOException {
        BenchmarkFiles a = generate("a", SMALL);
        BenchmarkFiles b = generate("b", SMALL);
        BenchmarkFiles c = generate("c", SMALL.withSeed(SMALL.seed() + 1));
        for (Path p : new Path[]{a.train().local("train"), a.train().shortlist(), a.test().global("distractors"),
                a.test().groundTruth(), a.val().groundTruth(), a.test().shortlist()}) {
            Path rel = a.root().relativize(p);
            assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(b.root().resolve(rel)), rel.toString());
        }
        assertFalse(Arrays.equals(Files.readAllBytes(a.test().global("query")),
                Files.readAllBytes(c.test().global("query"))));
    }

    @Test
    void rowsAreSortedByWeightPaddingIsMaskedAndTheGlobalIsTheWeightedMean() throws IOException {
        BenchmarkFiles f = generate("x", SMALL);
        BenchmarkFiles.Split test = f.test();
        int padded = 0;
        for (String part : new String[]{"query", "gallery", "distractors"}) {
            try (LocalFeatures l = LocalFeatures.open(test.local(part));
                 GlobalDescriptors g = GlobalDescriptors.open(test.global(part), SMALL.dim())) {
                assertEquals(SMALL.rows(), l.rowsPerImage());
                assertEquals(SMALL.dim(), l.descriptorDim());
                assertEquals(l.numImages(), g.size());
                for (int i = 0; i < l.numImages(); i++) {
                    ImageFeatures im = l.read(i);
                    int valid = im.validRows();
                    if (valid < im.rows()) padded++;
                    double[] mean = new double[SMALL.dim()];
                    for (int r = 0; r < im.rows(); r++) {
                        if (r >= valid) {
                            assertTrue(im.mask()[r], part + " " + i + ": padding after the valid rows");
                            assertEquals(0f, im.weights()[r]);
                            continue;
                        }
                        assertFalse(im.mask()[r]);
                        if (r > 0) assertTrue(im.weights()[r] <= im.weights()[r - 1], "descending weights");
                        double norm = 0;
                        for (int j = 0; j < SMALL.dim(); j++) {
                            float v = im.descriptors()[r * SMALL.dim() + j];
                            norm += v * v;
                            mean[j] += im.weights()[r] * v;
                        }
                        assertEquals(1.0, norm, 1e-5, "unit descriptors");
                        assertTrue(im.y()[r] >= 0 && im.y()[r] <= 1 && im.x()[r] >= 0 && im.x()[r] <= 1);
                    }
                    double n = Math.sqrt(Arrays.stream(mean).map(v -> v * v).sum());
                    float[] global = g.get(i);
                    for (int j = 0; j < SMALL.dim(); j++) {
                        assertEquals(mean[j] / n, global[j], 1e-5, part + " " + i + " global[" + j + "]");
                    }
                }
            }
        }
        assertTrue(padded > 0, "some images have padding rows");
    }

    @Test
    void shortlistsAndGroundTruthAreConsistent() throws IOException {
        BenchmarkFiles f = generate("x", SMALL);
        // training: every image a query, itself removed, labels from the image list
        BenchmarkFiles.Split train = f.train();
        ImageList list = ImageList.read(train.imageList("train"));
        int n = SMALL.trainLandmarks() * SMALL.trainImagesPerLandmark();
        assertEquals(n, list.size());
        assertEquals(SMALL.trainLandmarks(), list.numLabels());
        Shortlist nn = ShortlistFile.read(train.shortlist(), n);
        assertEquals(n, nn.numQueries());
        assertEquals(SMALL.trainShortlistLength(), nn.length());
        try (GlobalDescriptors g = GlobalDescriptors.open(train.global("train"), SMALL.dim())) {
            for (int q = 0; q < n; q++) {
                int[] ids = nn.ids(q);
                for (int j = 0; j < ids.length; j++) {
                    assertNotEquals(q, ids[j], "self removed");
                    if (j > 0) assertTrue(nn.similarity(q, j) <= nn.similarity(q, j - 1));
                    assertEquals(dot(g.get(q), g.get(ids[j])), nn.similarity(q, j), 1e-5);
                }
            }
        }

        // test: Revisited style over the gallery; shortlist ids reach into the distractors
        BenchmarkFiles.Split test = f.test();
        GroundTruth gnd = GroundTruth.read(test.groundTruth());
        assertFalse(gnd.isGldv2Style());
        ImageList gallery = ImageList.read(test.imageList("gallery"));
        ImageList queries = ImageList.read(test.imageList("query"));
        assertEquals(SMALL.testGallerySize(), gnd.numImages());
        assertEquals(gallery.size(), gnd.numImages());
        assertEquals(SMALL.testLandmarks() * SMALL.queriesPerLandmark(), gnd.numQueries());
        for (int q = 0; q < gnd.numQueries(); q++) {
            GroundTruth.Query gq = gnd.queries().get(q);
            assertEquals(SMALL.easyPerLandmark(), gq.easy().length);
            assertEquals(SMALL.hardPerLandmark(), gq.hard().length);
            assertEquals(SMALL.junkPerLandmark(), gq.junk().length);
            Set<Integer> seen = new HashSet<>();
            for (int[] ids : new int[][]{gq.easy(), gq.hard(), gq.junk()}) {
                for (int id : ids) {
                    assertTrue(seen.add(id), "easy, hard and junk are disjoint");
                    assertEquals(queries.get(q).label(), gallery.get(id).label());
                }
            }
            double[] b = gq.bbx();
            assertTrue(b[0] < b[2] && b[1] < b[3] && b[2] <= 640 && b[3] <= 480, Arrays.toString(b));
        }
        Shortlist tnn = ShortlistFile.read(test.shortlist(), SMALL.testGallerySize() + SMALL.distractors());
        assertEquals(gnd.numQueries(), tnn.numQueries());
        assertEquals(SMALL.shortlistLength(), tnn.length());
        assertTrue(tnn.maxId() >= SMALL.testGallerySize(), "distractors appear in the shortlists");

        // validation: GLDv2 style, positives of the query's landmark
        GroundTruth val = GroundTruth.read(f.val().groundTruth());
        assertTrue(val.isGldv2Style());
        ImageList vq = ImageList.read(f.val().imageList("query"));
        ImageList vg = ImageList.read(f.val().imageList("gallery"));
        for (int q = 0; q < val.numQueries(); q++) {
            int[] ok = val.queries().get(q).ok();
            assertEquals(SMALL.easyPerLandmark() + SMALL.hardPerLandmark(), ok.length);
            for (int id : ok) assertEquals(vq.get(q).label(), vg.get(id).label());
        }
        assertEquals(val.numQueries(), ShortlistFile.read(f.val().shortlist(), vg.size()).numQueries());
    }

    @Test
    void easyImagesShareMoreLocalMatchesWithTheQueryThanHardOnesAndHardMoreThanJunk() throws IOException {
        BenchmarkFiles f = generate("x", SMALL);
        LocalMatchBaseline m = new LocalMatchBaseline(LocalMatchBaseline.DEFAULT_THRESHOLD);
        double[] sum = new double[4];
        int[] count = new int[4];
        try (TestBenchmark bench = TestBenchmark.open(f.test())) {
            for (int q = 0; q < bench.numQueries(); q++) {
                GroundTruth.Query gq = bench.groundTruth().queries().get(q);
                ImageFeatures query = bench.query(q);
                int[][] kinds = {gq.easy(), gq.hard(), gq.junk(), {bench.galleryImages() - 1}}; // last: background
                for (int k = 0; k < 4; k++) {
                    for (int id : kinds[k]) {
                        sum[k] += m.matches(query, bench.image(id));
                        count[k]++;
                    }
                }
            }
        }
        double easy = sum[0] / count[0], hard = sum[1] / count[1], junk = sum[2] / count[2], bg = sum[3] / count[3];
        assertTrue(easy > hard + 3 && hard > junk + 1 && junk > bg,
                "mean matches easy " + easy + ", hard " + hard + ", junk " + junk + ", background " + bg);
    }

    @Test
    void badConfigurationsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new SyntheticLandmarks.Config(1, 0, 32, 24, 6, 12, 12,
                6, 6, 10, 2, 3, 4, 2, 40, 60, 100, 30, 0.35, 0.15));
        assertThrows(IllegalArgumentException.class, () -> new SyntheticLandmarks.Config(1, 64, 32, 24, 6, 12, 12,
                1, 6, 10, 2, 3, 4, 2, 40, 60, 100, 30, 0.35, 0.15));
        assertThrows(IllegalArgumentException.class, () -> new SyntheticLandmarks.Config(1, 64, 32, 24, 6, 12, 12,
                6, 6, 10, 2, 0, 0, 2, 40, 60, 100, 30, 0.35, 0.15));
        assertThrows(IllegalArgumentException.class, () -> new SyntheticLandmarks.Config(1, 64, 32, 24, 6, 12, 12,
                6, 6, 10, 2, 3, 4, 2, 40, 60, 100, 30, Double.NaN, 0.15));
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
