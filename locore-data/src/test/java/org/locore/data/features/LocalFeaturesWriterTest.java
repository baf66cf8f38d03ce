package org.locore.data.features;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writes local feature files and reads them back with our reader and, when available, with h5py. */
class LocalFeaturesWriterTest {
    @TempDir
    Path tmp;

    private static Tensor expected() throws Exception {
        return Fixtures.tensor("hdf5/expected.safetensors", "local");
    }

    @ParameterizedTest
    @EnumSource(LocalFeaturesWriter.Storage.class)
    void roundTripThroughOurReader(LocalFeaturesWriter.Storage storage) throws Exception {
        Tensor t = expected();
        int n = (int) t.shape()[0];
        int k = (int) t.shape()[1];
        int d = (int) t.shape()[2] - 5;
        float[] values = t.toFloatArray();
        Path file = tmp.resolve("written.hdf5");
        LocalFeaturesWriter.write(file, values, n, k, d, storage);
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            assertArrayEquals(t.shape(), lf.shape());
            assertEquals(storage == LocalFeaturesWriter.Storage.CONTIGUOUS ? "contiguous" : "chunked", lf.layout());
            assertEquals("float32", lf.storedType());
            assertEquals(storage == LocalFeaturesWriter.Storage.CONTIGUOUS ? "none" : "gzip+shuffle", lf.compression());
            assertArrayEquals(values, lf.readBatch(new int[]{0, 1, 2, 3, 4, 5, 6}, k));
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(file), s.toList(), "no temporary files left behind");
        }
    }

    @Test
    void incrementalAddAndReplaceExisting() throws Exception {
        int k = 4;
        int d = 3;
        Path file = tmp.resolve("inc.hdf5");
        Files.write(file, "an older file".getBytes());
        float[][] images = new float[3][];
        try (LocalFeaturesWriter w = LocalFeaturesWriter.create(file, k, d, LocalFeaturesWriter.Storage.CHUNKED_GZIP)) {
            for (int i = 0; i < images.length; i++) {
                images[i] = new float[k * (5 + d)];
                for (int j = 0; j < images[i].length; j++) {
                    images[i][j] = i * 100 + j * 0.25f;
                }
                if (i == 1) {
                    w.add(ImageFeatures.fromRows(images[i], 0, k, d));
                    // fromRows rounds the scale column and turns the mask into 0/1: mirror that here
                    images[i] = ImageFeatures.fromRows(images[i], 0, k, d).toRows();
                } else {
                    w.add(images[i], 0);
                }
            }
            assertEquals(3, w.size());
            assertThrows(IllegalArgumentException.class, () -> w.add(new float[5], 0));
            w.finish();
            assertThrows(IllegalStateException.class, () -> w.add(images[0], 0));
        }
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            assertArrayEquals(new long[]{3, k, 5 + d}, lf.shape());
            for (int i = 0; i < images.length; i++) {
                assertArrayEquals(images[i], lf.readRows(i, k), "image " + i);
            }
        }
    }

    /** h5py reads our files and finds the same values, dtype, shape and storage. */
    @ParameterizedTest
    @EnumSource(LocalFeaturesWriter.Storage.class)
    void h5pyReadsWhatWeWrite(LocalFeaturesWriter.Storage storage) throws Exception {
        String python = Fixtures.python("h5py", "numpy");
        Assumptions.assumeTrue(python != null, "no Python with h5py and numpy: skipping the h5py cross-check");
        Tensor t = expected();
        int n = (int) t.shape()[0];
        int k = (int) t.shape()[1];
        int d = (int) t.shape()[2] - 5;
        float[] values = t.toFloatArray();
        Path file = tmp.resolve("for_h5py.hdf5");
        LocalFeaturesWriter.write(file, values, n, k, d, storage);
        Path raw = tmp.resolve("values.f32");
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        Files.write(raw, b.array());
        String script = String.join("\n",
                "import sys, h5py, numpy as np",
                "f = h5py.File(sys.argv[1], 'r')",
                "d = f['features']",
                "want = np.fromfile(sys.argv[2], dtype='<f4').reshape(d.shape)",
                "a = d[()]",
                "print(d.dtype.str, list(d.shape), d.chunks, d.compression, bool(d.shuffle))",
                "print('equal' if np.array_equal(a, want) else 'DIFFERENT')");
        String out = Fixtures.runPython(python, script, file.toString(), raw.toString());
        String[] lines = out.trim().split("\n");
        String info = lines[lines.length - 2];
        assertEquals("equal", lines[lines.length - 1].trim(), out);
        String expectedInfo = storage == LocalFeaturesWriter.Storage.CONTIGUOUS
                ? "<f4 [" + n + ", " + k + ", " + (5 + d) + "] None None False"
                : "<f4 [" + n + ", " + k + ", " + (5 + d) + "] (1, " + k + ", " + (5 + d) + ") gzip True";
        assertEquals(expectedInfo, info.trim(), out);
    }

    /** Closing without finish() (an exception half-way) leaves the existing file alone and no temporary file. */
    @ParameterizedTest
    @EnumSource(LocalFeaturesWriter.Storage.class)
    void abandonedWriterKeepsTheOldFile(LocalFeaturesWriter.Storage storage) throws Exception {
        Path file = tmp.resolve("keep.hdf5");
        Files.write(file, "precious".getBytes());
        assertThrows(IllegalStateException.class, () -> {
            try (LocalFeaturesWriter w = LocalFeaturesWriter.create(file, 2, 1, storage)) {
                w.add(new float[12], 0);
                throw new IllegalStateException("extraction failed");
            }
        });
        assertEquals("precious", Files.readString(file));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(file), s.toList(), "no temporary files left behind");
        }
    }

    @ParameterizedTest
    @EnumSource(LocalFeaturesWriter.Storage.class)
    void emptyFile(LocalFeaturesWriter.Storage storage) throws Exception {
        Path file = tmp.resolve("empty.hdf5");
        LocalFeaturesWriter.write(file, new float[0], 0, 3, 2, storage);
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            assertArrayEquals(new long[]{0, 3, 7}, lf.shape());
            assertThrows(IllegalArgumentException.class, () -> lf.read(0, 1));
        }
    }

    /** Contiguous files are streamed: thousands of images cross the writer's buffer boundaries mid-image. */
    @Test
    void streamsManyImages() throws Exception {
        int n = 3000;
        int k = 20;
        int d = 16;
        int per = k * (5 + d);
        Path file = tmp.resolve("many.hdf5");
        float[] image = new float[per];
        try (LocalFeaturesWriter w = LocalFeaturesWriter.create(file, k, d, LocalFeaturesWriter.Storage.CONTIGUOUS)) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < per; j++) {
                    image[j] = i * 1000f + j;
                }
                w.add(image, 0);
            }
            w.finish();
        }
        assertEquals(ContiguousHdf5Writer.DATA_ADDRESS + (long) n * per * 4, Files.size(file));
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            assertArrayEquals(new long[]{n, k, 5 + d}, lf.shape());
            for (int i : new int[]{0, 1, 623, 624, 1248, 2999}) {
                float[] got = lf.readRows(i, k);
                for (int j = 0; j < per; j++) {
                    assertEquals(i * 1000f + j, got[j], "image " + i + " value " + j);
                }
            }
        }
    }

    @Test
    void rejectsBadArguments() throws Exception {
        Path file = tmp.resolve("bad.hdf5");
        assertThrows(IllegalArgumentException.class,
                () -> LocalFeaturesWriter.write(file, new float[10], 1, 2, 3, LocalFeaturesWriter.Storage.CONTIGUOUS));
        assertThrows(IllegalArgumentException.class,
                () -> LocalFeaturesWriter.create(file, 0, 3, LocalFeaturesWriter.Storage.CONTIGUOUS));
        assertTrue(Files.notExists(file));
    }
}
