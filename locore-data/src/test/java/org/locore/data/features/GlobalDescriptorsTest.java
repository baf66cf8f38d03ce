package org.locore.data.features;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Global descriptor files: the reference fixture, the multi-mapping indexing, writing and broken files. */
class GlobalDescriptorsTest {
    @TempDir
    Path tmp;

    private static Tensor expected() throws Exception {
        return Fixtures.tensor("hdf5/expected.safetensors", "global");
    }

    private static void assertAllRows(GlobalDescriptors g, float[] want, int n, int d) {
        assertEquals(n, g.size());
        assertEquals(d, g.dim());
        for (int i = 0; i < n; i++) {
            assertArrayEquals(Arrays.copyOfRange(want, i * d, (i + 1) * d), g.get(i), "row " + i);
        }
    }

    @Test
    void readsTheFixtureByDimOrByCount() throws Exception {
        Tensor t = expected();
        int n = (int) t.shape()[0];
        int d = (int) t.shape()[1];
        float[] want = t.toFloatArray();
        Path file = Fixtures.path("hdf5/global.pt");
        try (GlobalDescriptors g = GlobalDescriptors.open(file, d)) {
            assertAllRows(g, want, n, d);
            assertEquals(1, g.mappingCount());
            float[] dst = new float[d + 3];
            g.get(n - 1, dst, 3);
            assertArrayEquals(Arrays.copyOfRange(want, (n - 1) * d, n * d), Arrays.copyOfRange(dst, 3, d + 3));
        }
        try (GlobalDescriptors g = GlobalDescriptors.openWithCount(file, n)) {
            assertAllRows(g, want, n, d);
        }
    }

    /** The >2 GB logic: rows spread over several mappings (each holding whole rows) read back identically. */
    @Test
    void severalMappingsIndexCorrectly() throws Exception {
        Tensor t = expected();
        int n = (int) t.shape()[0];
        int d = (int) t.shape()[1];
        float[] want = t.toFloatArray();
        Path file = Fixtures.path("hdf5/global.pt");
        int row = 4 * d;
        // {bytes per mapping, expected number of mappings}
        long[][] cases = {{3L * row, (n + 2) / 3}, {3L * row + row / 2, (n + 2) / 3}, {row - 1, n}, {2L * row, (n + 1) / 2}};
        for (long[] c : cases) {
            try (GlobalDescriptors g = new GlobalDescriptors(file, d, c[0])) {
                assertEquals(c[1], g.mappingCount(), "mappings for " + c[0] + " bytes each");
                assertAllRows(g, want, n, d);
            }
        }
    }

    @Test
    void writeRoundTripsAtomically() throws Exception {
        int n = 5;
        int d = 3;
        float[] values = new float[n * d];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i - 7) * 0.37f;
        }
        Path file = tmp.resolve("out_global.pt");
        Files.write(file, new byte[]{1, 2, 3}); // an older file is replaced
        GlobalDescriptors.write(file, values, d);
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(4 * n * d, bytes.length);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            assertEquals(values[i], b.getFloat(4 * i), "little-endian value " + i);
        }
        try (GlobalDescriptors g = GlobalDescriptors.open(file, d)) {
            assertAllRows(g, values, n, d);
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(file), s.toList(), "no temporary files left behind");
        }
        assertThrows(IllegalArgumentException.class, () -> GlobalDescriptors.write(file, new float[7], 3));
    }

    @Test
    void brokenFilesAndBadIndices() throws Exception {
        Path file = Fixtures.path("hdf5/global.pt");
        long size = Files.size(file);
        Path odd = tmp.resolve("odd.pt");
        Files.write(odd, Arrays.copyOf(Files.readAllBytes(file), (int) size - 4));
        FormatException e = assertThrows(FormatException.class, () -> GlobalDescriptors.open(odd, 16));
        assertEquals(odd, e.file());
        assertTrue(e.getMessage().contains("not a multiple"), e.getMessage());
        e = assertThrows(FormatException.class, () -> GlobalDescriptors.openWithCount(file, 5));
        assertTrue(e.getMessage().contains("not a multiple"), e.getMessage());

        Path empty = tmp.resolve("empty.pt");
        Files.createFile(empty);
        e = assertThrows(FormatException.class, () -> GlobalDescriptors.open(empty, 16));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        assertThrows(FormatException.class, () -> GlobalDescriptors.openWithCount(empty, 7));
        e = assertThrows(FormatException.class, () -> GlobalDescriptors.open(tmp.resolve("missing.pt"), 16));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GlobalDescriptors.open(file, 0));

        try (GlobalDescriptors g = GlobalDescriptors.open(file, 16)) {
            for (int bad : new int[]{-1, g.size()}) {
                var x = assertThrows(IndexOutOfBoundsException.class, () -> g.get(bad));
                assertTrue(x.getMessage().contains(file.toString()), x.getMessage());
            }
            assertThrows(IndexOutOfBoundsException.class, () -> g.get(0, new float[20], 5));
        }
    }
}
