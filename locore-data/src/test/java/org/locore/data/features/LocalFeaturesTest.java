package org.locore.data.features;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reads the four stored layouts of the reference fixtures and compares them with the expected arrays. */
class LocalFeaturesTest {
    private static final String[] FILES = {"contiguous", "chunked", "compound", "virtual"};
    private static float[] local;
    private static float[] localF16;
    private static long[] valid;
    private static long[] shape;

    @BeforeAll
    static void load() throws Exception {
        Tensor t = Fixtures.tensor("hdf5/expected.safetensors", "local");
        shape = t.shape();
        local = t.toFloatArray();
        localF16 = Fixtures.tensor("hdf5/expected.safetensors", "local_f16").toFloatArray();
        valid = Fixtures.tensor("hdf5/expected.safetensors", "valid_rows").toLongArray();
    }

    static Path fixture(String layout) {
        return Fixtures.path("hdf5/local_" + layout + ".hdf5");
    }

    /** The expected values for a layout: the compound file stores descriptors as float16. */
    static float[] expected(String layout) {
        return layout.equals("compound") ? localF16 : local;
    }

    @ParameterizedTest
    @ValueSource(strings = {"contiguous", "chunked", "compound", "virtual"})
    void metadataOfEachLayout(String layout) throws Exception {
        try (LocalFeatures lf = LocalFeatures.open(fixture(layout))) {
            assertArrayEquals(shape, lf.shape());
            assertEquals(shape[0], lf.numImages());
            assertEquals(shape[1], lf.rowsPerImage());
            assertEquals(shape[2] - 5, lf.descriptorDim());
            assertEquals(layout, lf.layout());
            int k = (int) shape[1];
            int d = (int) shape[2] - 5;
            assertEquals(switch (layout) {
                case "compound" -> "compound{metadata: float32[" + k + ",5], descriptor: float16[" + k + "," + d + "]}";
                default -> "float32";
            }, lf.storedType());
            assertEquals(layout.equals("chunked") ? "gzip+shuffle" : "none", lf.compression());
            if (layout.equals("virtual")) {
                assertEquals(List.of(fixture("part0").toAbsolutePath().normalize(),
                                fixture("part1").toAbsolutePath().normalize()),
                        lf.partFiles().stream().map(p -> p.toAbsolutePath().normalize()).toList());
            } else {
                assertTrue(lf.partFiles().isEmpty());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"contiguous", "chunked", "compound", "virtual", "part0", "part1"})
    void everyImageMatchesExpected(String layout) throws Exception {
        float[] exp = expected(layout);
        int k = (int) shape[1];
        int width = (int) shape[2];
        int first = layout.equals("part1") ? 4 : 0;
        try (LocalFeatures lf = LocalFeatures.open(fixture(layout))) {
            for (int i = 0; i < lf.numImages(); i++) {
                float[] want = Arrays.copyOfRange(exp, (first + i) * k * width, (first + i + 1) * k * width);
                float[] got = lf.readRows(i, k);
                Fixtures.assertClose(want, got, 0.0, layout + " image " + i);
                ImageFeatures f = lf.read(i);
                for (int r = 0; r < k; r++) {
                    int p = r * width;
                    assertEquals(want[p], f.y()[r], layout + " y");
                    assertEquals(want[p + 1], f.x()[r], layout + " x");
                    assertEquals((int) want[p + 2], f.scaleIds()[r], layout + " scale");
                    assertEquals(want[p + 3] != 0, f.mask()[r], layout + " mask");
                    assertEquals(want[p + 4], f.weights()[r], layout + " weight");
                    assertArrayEquals(Arrays.copyOfRange(want, p + 5, p + width),
                            Arrays.copyOfRange(f.descriptors(), r * (width - 5), (r + 1) * (width - 5)));
                }
                assertEquals(valid[first + i], f.validRows(), layout + " valid rows of image " + i);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"contiguous", "chunked", "compound", "virtual"})
    void partialRowsAndBatches(String layout) throws Exception {
        float[] exp = expected(layout);
        int k = (int) shape[1];
        int width = (int) shape[2];
        try (LocalFeatures lf = LocalFeatures.open(fixture(layout))) {
            for (int n : new int[]{0, 1, 7, k}) {
                ImageFeatures f = lf.read(5, n);
                assertEquals(n, f.rows());
                Fixtures.assertClose(Arrays.copyOfRange(exp, 5 * k * width, 5 * k * width + n * width), f.toRows(),
                        0.0, layout + " first " + n + " rows");
            }
            int[] images = {6, 0, 3, 3, 4};
            int n = 9;
            float[] dst = new float[2 + images.length * n * width];
            lf.readBatch(images, n, dst, 2);
            assertEquals(0f, dst[0]);
            assertEquals(0f, dst[1]);
            for (int b = 0; b < images.length; b++) {
                float[] want = Arrays.copyOfRange(exp, images[b] * k * width, images[b] * k * width + n * width);
                float[] got = Arrays.copyOfRange(dst, 2 + b * n * width, 2 + (b + 1) * n * width);
                Fixtures.assertClose(want, got, 0.0, layout + " batch entry " + b);
            }
            assertArrayEquals(Arrays.copyOfRange(dst, 2, dst.length), lf.readBatch(images, n));
        }
    }

    /** The >2 GB logic for contiguous data: images spread over several small mappings read back identically. */
    @ParameterizedTest
    @ValueSource(strings = {"contiguous", "compound", "virtual"})
    void severalMappingsIndexCorrectly(String layout) throws Exception {
        float[] exp = expected(layout);
        int k = (int) shape[1];
        int width = (int) shape[2];
        for (long mappingBytes : new long[]{1, 2L * k * width * 4 + 17, 3L * k * width * 4}) {
            try (LocalFeatures lf = LocalFeatures.open(fixture(layout), LocalFeatures.DATASET, 0, mappingBytes)) {
                for (int i = lf.numImages() - 1; i >= 0; i--) {
                    Fixtures.assertClose(Arrays.copyOfRange(exp, i * k * width, (i + 1) * k * width),
                            lf.readRows(i, k), 0.0, layout + " image " + i + " with mappings of " + mappingBytes);
                }
            }
        }
    }

    @Test
    void argumentsOutOfRangeNameTheFile() throws Exception {
        Path file = fixture("contiguous");
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            int k = lf.rowsPerImage();
            for (int bad : new int[]{-1, lf.numImages()}) {
                var e = assertThrows(IllegalArgumentException.class, () -> lf.read(bad, 1));
                assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("out of range"),
                        e.getMessage());
            }
            var e = assertThrows(IllegalArgumentException.class, () -> lf.read(0, k + 1));
            assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("K = " + k), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> lf.read(0, -1));
            assertThrows(IllegalArgumentException.class, () -> lf.readBatch(new int[]{0, 1}, 2, new float[10], 0));
            lf.close();
            assertThrows(IllegalStateException.class, () -> lf.read(0, 1));
        }
    }

    /** An interrupted reader of a chunked file gets an InterruptedIOException; the others go on reading. */
    @Test
    void interruptedReaderDoesNotBreakTheOthers() throws Exception {
        int k = (int) shape[1];
        int width = (int) shape[2];
        try (LocalFeatures lf = LocalFeatures.open(fixture("chunked"))) {
            Thread.currentThread().interrupt();
            try {
                assertThrows(java.io.InterruptedIOException.class, () -> lf.read(3, k));
            } finally {
                assertTrue(Thread.interrupted(), "the interrupt status is kept");
            }
            for (int i = 0; i < lf.numImages(); i++) {
                Fixtures.assertClose(Arrays.copyOfRange(local, i * k * width, (i + 1) * k * width),
                        lf.readRows(i, k), 0.0, "chunked image " + i + " after an interrupt");
            }
        }
    }

    @Test
    void concurrentReadersSeeTheExpectedRows() throws Exception {
        List<LocalFeatures> readers = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            for (String layout : FILES) {
                readers.add(LocalFeatures.open(fixture(layout)));
            }
            int k = (int) shape[1];
            int width = (int) shape[2];
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                long seed = 1234 + t;
                results.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    int checked = 0;
                    for (int it = 0; it < 300; it++) {
                        int which = rnd.nextInt(readers.size());
                        LocalFeatures lf = readers.get(which);
                        int image = rnd.nextInt(lf.numImages());
                        int n = 1 + rnd.nextInt(k);
                        float[] exp = expected(FILES[which]);
                        float[] want = Arrays.copyOfRange(exp, image * k * width, image * k * width + n * width);
                        float[] got = lf.readRows(image, n);
                        if (!Arrays.equals(want, got)) {
                            throw new AssertionError(FILES[which] + " image " + image + " rows " + n + " differ");
                        }
                        checked++;
                    }
                    return checked;
                }));
            }
            int total = 0;
            for (Future<Integer> f : results) {
                total += f.get(60, TimeUnit.SECONDS);
            }
            assertEquals(8 * 300, total);
        } finally {
            pool.shutdownNow();
            for (LocalFeatures lf : readers) {
                lf.close();
            }
        }
    }
}
