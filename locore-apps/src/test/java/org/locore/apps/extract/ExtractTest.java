package org.locore.apps.extract;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.ImageFeatures;
import org.locore.data.features.LocalFeatures;
import org.locore.data.datavec.FeatureSet;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreInputs;
import org.locore.model.locore.LocoreModel;
import org.locore.model.locore.ScoreMode;
import org.locore.model.longformer.LongformerConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.locore.testing.Fixtures;
import org.locore.testing.Pickles;
import org.locore.apps.CommandRunner.Run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.locore.apps.CommandRunner.run;

/**
 * {@code locore extract} end to end on the tiny DINOv2 + detector fixtures: the files read back through
 * {@link LocalFeatures} / {@link GlobalDescriptors} with the reference values of
 * {@code dinov2_tiny.expected.safetensors} (top-20 rows, weights, descriptors, globals within 1e-4), a missing and a
 * corrupt image recorded and stored as padding, an interrupted run resumed without redoing finished parts and
 * giving identical files, query crops from the ground-truth boxes, and h5py reading the file (when installed).
 */
class ExtractTest {
    static final String EXPECTED = "dinov2/dinov2_tiny.expected.safetensors";
    static final int K = 20;
    static final int D = 64;
    static final int P = 14;

    @TempDir
    static Path shared;
    static Path images;
    static Path galleryList;
    static Path fullOut;
    static Run fullRun;


    static String[] args(Path list, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("extract", "--images", images.toString(), "--list", list.toString(),
                "--vit", Fixtures.path("dinov2/dinov2_tiny.pth").toString(),
                "--detector", Fixtures.path("dinov2/detector_tiny.pt").toString(), "--heads", "4",
                "--out", out.toString(), "--name", "tiny", "--topk", String.valueOf(K)));
        a.addAll(Arrays.asList(more));
        return a.toArray(new String[0]);
    }

    /** Gallery list: two fixture images, a missing one and a corrupt one; one uninterrupted run in parts of 2. */
    @BeforeAll
    static void extractGallery() throws IOException {
        images = shared.resolve("images");
        Files.createDirectories(images.resolve("sub"));
        Files.copy(Fixtures.path("dinov2/images/wide.png"), images.resolve("sub/wide.png"));
        Files.copy(Fixtures.path("dinov2/images/tall.png"), images.resolve("tall.png"));
        Files.write(images.resolve("corrupt.png"), "this is not an image".getBytes());
        galleryList = shared.resolve("gallery.txt");
        Files.writeString(galleryList, "sub/wide.png,0,800,600\nmissing.jpg,0,10,10\ntall.png,1,600,800\ncorrupt.png,2,5,5\n");
        fullOut = shared.resolve("full");
        fullRun = run(args(galleryList, fullOut, "--part-size", "2"));
    }

    @Test
    void galleryFilesHoldTheReferenceFeatures() throws IOException {
        assertEquals(0, fullRun.code(), fullRun.err() + fullRun.out());
        assertTrue(fullRun.out().contains("extracted 4 of 4 images in this run (0 from earlier runs), 2 failed"), fullRun.out());
        try (LocalFeatures lf = LocalFeatures.open(fullOut.resolve("tiny_local.hdf5"));
             GlobalDescriptors g = GlobalDescriptors.open(fullOut.resolve("tiny_global.pt"), D);
             GlobalDescriptors cls = GlobalDescriptors.open(fullOut.resolve("tiny_cls_global.pt"), D)) {
            assertArrayEquals(new long[]{4, K, 5 + D}, lf.shape());
            assertEquals(4, g.size());
            assertEquals(4, cls.size());
            assertImage(lf, g, cls, 0, "wide_png", 574, 770);
            assertImage(lf, g, cls, 2, "tall_png", 770, 574);
            for (int failed : new int[]{1, 3}) {
                ImageFeatures f = lf.read(failed);
                assertEquals(0, f.validRows(), "failed image " + failed + " is all padding");
                float[] rows = lf.readRows(failed, K);
                for (int r = 0; r < K; r++) {
                    for (int c = 0; c < 5 + D; c++) {
                        assertEquals(c == 3 ? 1f : 0f, rows[r * (5 + D) + c], "image " + failed + " row " + r + " col " + c);
                    }
                }
                assertArrayEquals(new float[D], g.get(failed));
                assertArrayEquals(new float[D], cls.get(failed));
            }
        }
        List<String> failed = Files.readAllLines(fullOut.resolve("tiny_failed.txt"));
        assertEquals(2, failed.size(), failed.toString());
        assertTrue(failed.get(0).startsWith("1\tmissing.jpg\t"), failed.get(0));
        assertTrue(failed.get(1).startsWith("3\tcorrupt.png\t") && failed.get(1).contains("decode"), failed.get(1));
        assertFalse(Files.exists(fullOut.resolve(".tiny.parts")), "parts removed after stitching");
    }

    /** Image {@code i} against the reference case: top-K ids -> positions, weights, descriptors; both globals. */
    static void assertImage(LocalFeatures lf, GlobalDescriptors g, GlobalDescriptors cls, int i, String c, int h, int w)
            throws IOException {
        ImageFeatures f = lf.read(i);
        assertEquals(K, f.validRows(), c);
        long[] ids = Fixtures.tensor(EXPECTED, "det/" + c + "/topk_ids").toLongArray();
        int gw = w / P;
        float[] y = new float[K];
        float[] x = new float[K];
        for (int r = 0; r < K; r++) {
            y[r] = (float) ((ids[r] / gw) * P + P / 2.0) / h;
            x[r] = (float) ((ids[r] % gw) * P + P / 2.0) / w;
            assertEquals(0, f.scaleIds()[r]);
        }
        assertArrayEquals(y, f.y(), 1e-7f, c + " y centres");
        assertArrayEquals(x, f.x(), 1e-7f, c + " x centres");
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/topk_weights").toFloatArray(), f.weights(), 1e-4,
                c + " weights");
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/topk_descriptors").toFloatArray(), f.descriptors(),
                1e-4, c + " descriptors");
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/global").toFloatArray(), g.get(i), 1e-4, c + " global");
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/cls_global").toFloatArray(), cls.get(i), 1e-4,
                c + " cls global");
    }

    @Test
    void interruptedRunResumesWithoutRedoingPartsAndGivesIdenticalFiles(@TempDir Path out) throws IOException {
        Run first = run(args(galleryList, out, "--part-size", "2", "--max-parts", "1"));
        assertEquals(0, first.code(), first.err() + first.out());
        assertTrue(first.out().contains("extracted 2 of 4 images in this run (0 from earlier runs)"), first.out());
        assertTrue(first.out().contains("incomplete"), first.out());
        assertFalse(Files.exists(out.resolve("tiny_local.hdf5")));
        assertTrue(Files.exists(out.resolve(".tiny.parts/part-000000.done")));

        Run other = run(args(galleryList, out, "--part-size", "3"));
        assertEquals(2, other.code(), "parts made with other options are not mixed");
        assertTrue(other.err().contains("other options"), other.err());

        Run second = run(args(galleryList, out, "--part-size", "2"));
        assertEquals(0, second.code(), second.err() + second.out());
        assertTrue(second.out().contains("extracted 2 of 4 images in this run (2 from earlier runs), 1 failed"), second.out());
        for (String f : new String[]{"tiny_local.hdf5", "tiny_global.pt", "tiny_cls_global.pt", "tiny_failed.txt"}) {
            assertArrayEquals(Files.readAllBytes(fullOut.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
        assertFalse(Files.exists(out.resolve(".tiny.parts")));

        Run again = run(args(galleryList, out, "--part-size", "2"));
        assertEquals(2, again.code(), "finished files are not overwritten without --overwrite");
        assertTrue(again.err().contains("--overwrite"), again.err());
    }

    @Test
    void queriesAreCroppedToTheGroundTruthBoxes(@TempDir Path out) throws IOException {
        Path list = out.resolve("query.txt");
        Files.writeString(list, "sub/wide.png,0,800,600\ntall.png,1,600,800\n");
        Path gnd = out.resolve("gnd_tiny.pkl");
        Files.write(gnd, Pickles.dumps(groundTruth()));
        Run r = run(args(list, out, "--split", "_query", "--gnd", gnd.toString()));
        assertEquals(0, r.code(), r.err() + r.out());
        try (LocalFeatures lf = LocalFeatures.open(out.resolve("tiny_query_local.hdf5"));
             GlobalDescriptors g = GlobalDescriptors.open(out.resolve("tiny_query_global.pt"), D);
             GlobalDescriptors cls = GlobalDescriptors.open(out.resolve("tiny_cls_query_global.pt"), D)) {
            assertEquals(2, lf.numImages());
            assertImage(lf, g, cls, 0, "wide_png_query", 280, 336);
            assertImage(lf, g, cls, 1, "tall_png_query", 224, 182);
        }
        assertEquals(List.of(), Files.readAllLines(out.resolve("tiny_query_failed.txt")));

        Path twoQueries = out.resolve("one.txt");
        Files.writeString(twoQueries, "tall.png,1,600,800\n");
        Run bad = run(args(twoQueries, out.resolve("bad"), "--split", "_query", "--gnd", gnd.toString()));
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("2 queries") && bad.err().contains(gnd.toString()), bad.err());
    }

    private static Map<String, Object> groundTruth() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("imlist", List.of("g0", "g1"));
        root.put("qimlist", List.of("wide", "tall"));
        root.put("gnd", List.of(query(101.7, 80.2, 455.9, 371.0), query(10.0, 30.0, 200.0, 260.0)));
        return root;
    }

    private static Map<String, Object> query(double... bbx) {
        Map<String, Object> q = new LinkedHashMap<>();
        q.put("bbx", List.of(bbx[0], bbx[1], bbx[2], bbx[3]));
        q.put("easy", List.of(0));
        q.put("hard", List.of(1));
        q.put("junk", List.of());
        return q;
    }

    @Test
    void theReRankerConsumesTheExtractedFiles() throws IOException {
        assertEquals(0, fullRun.code(), fullRun.err());
        try (LocalFeatures lf = LocalFeatures.open(fullOut.resolve("tiny_local.hdf5"));
             GlobalDescriptors g = GlobalDescriptors.open(fullOut.resolve("tiny_global.pt"), D)) {
            FeatureSet set = new FeatureSet(lf, g);
            FeatureSet.Blocks q = set.read(new int[]{0}, K);
            FeatureSet.Blocks gal = set.read(new int[]{2, 1, 0}, K).grouped(1, 3);
            assertEquals(K, q.mask().size(1));
            assertEquals(0L, q.mask().sumNumber().longValue(), "the query has K real rows");
            assertEquals(K, gal.mask().get(org.nd4j.linalg.indexing.NDArrayIndex.point(0), org.nd4j.linalg.indexing.NDArrayIndex.point(1)).sumNumber().longValue(), "the failed image is all padding");
            LongformerConfig lc = new LongformerConfig(D, 1, 4, 128, List.of(16), 130, 1e-5, 0.0, 0.0, 1, 1);
            LocoreConfig cfg = LocoreConfig.of(lc).withSizes(K, 3);
            Nd4j.getRandom().setSeed(7);
            Map<String, INDArray> params = new LinkedHashMap<>();
            for (Map.Entry<String, long[]> e : LocoreModel.expectedShapes(lc).entrySet()) {
                long[] shape = e.getValue().clone();
                if (shape[0] < 0) shape[0] = 1;
                params.put(e.getKey(), Nd4j.randn(DataType.FLOAT, shape).muli(0.02));
            }
            LocoreModel model = LocoreModel.create(cfg, params);
            LocoreInputs in = new LocoreInputs(q.local(), q.scales(), q.mask(), q.global(), gal.local(), gal.scales(),
                    gal.mask(), gal.global(), null);
            INDArray scores = model.forward(in).scores(ScoreMode.MAX_END);
            assertEquals(3, scores.length());
            assertTrue(Double.isFinite(scores.sumNumber().doubleValue()), scores.toString());
        }
    }

    @Test
    void h5pyReadsOneFeaturesDataset() throws Exception {
        assertEquals(0, fullRun.code(), fullRun.err());
        String py = Fixtures.python("h5py", "numpy");
        Assumptions.assumeTrue(py != null, "no Python with h5py and numpy: skipping the h5py cross-check");
        Path file = fullOut.resolve("tiny_local.hdf5");
        String got = Fixtures.runPython(py, String.join("\n",
                "import sys, h5py, numpy as np",
                "f = h5py.File(sys.argv[1], 'r')",
                "d = f['features']",
                "print(list(f.keys()), d.shape, d.dtype, repr(float(np.asarray(d, dtype=np.float64).sum())))"),
                file.toString()).strip();
        double sum = 0;
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            for (int i = 0; i < lf.numImages(); i++) {
                for (float v : lf.readRows(i, K)) {
                    sum += v;
                }
            }
        }
        assertTrue(got.startsWith("['features'] (4, 20, 69) float32 "), got);
        assertEquals(sum, Double.parseDouble(got.substring(got.lastIndexOf(' ') + 1)), 1e-9 * Math.max(1, Math.abs(sum)), got);
    }
}
