package org.locore.data.features;

import io.jhdf.HdfFile;
import io.jhdf.WritableHdfFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.testing.Fixtures;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A corpus of broken local feature files, generated into a temporary folder: each must fail with a
 * {@link FormatException} that names the file and the problem, quickly and without a stray exception.
 */
class LocalFeaturesBrokenFilesTest {
    private static final String[] LAYOUTS = {"contiguous", "chunked", "compound", "virtual"};
    private static final int CORRUPT_COPIES = 150;
    @TempDir
    Path tmp;

    /** Opens and reads every image; returns the FormatException, failing on anything else. */
    private static FormatException expectFormatError(Path file, String... fragments) {
        FormatException e = assertThrows(FormatException.class, () -> openAndReadAll(file), file.toString());
        assertEquals(file, e.file(), "the exception names the file");
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' should mention '" + f + "'");
        }
        return e;
    }

    private static void openAndReadAll(Path file) throws Exception {
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            for (int i = 0; i < lf.numImages(); i++) {
                lf.read(i, lf.rowsPerImage());
            }
        }
    }

    /** Copies a fixture (and, for the virtual one, its parts) into a fresh folder; returns the copy. */
    private Path copy(String layout, String folder) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(folder));
        if (layout.equals("virtual")) {
            for (String p : new String[]{"part0", "part1"}) {
                Files.copy(LocalFeaturesTest.fixture(p), dir.resolve("local_" + p + ".hdf5"));
            }
        }
        return Files.copy(LocalFeaturesTest.fixture(layout), dir.resolve("local_" + layout + ".hdf5"));
    }

    @Test
    void notHdf5EmptyOrMissing() throws Exception {
        Path text = Files.writeString(tmp.resolve("text.hdf5"), "this is not an HDF5 file, just some text\n");
        expectFormatError(text, "not an HDF5 file");
        Path empty = Files.createFile(tmp.resolve("empty.hdf5"));
        expectFormatError(empty, "empty");
        expectFormatError(tmp.resolve("missing.hdf5"), "no such file");
        expectFormatError(tmp, "not a regular file");
    }

    @Test
    void corruptSuperblockMagic() throws Exception {
        for (String layout : LAYOUTS) {
            Path f = copy(layout, "magic_" + layout);
            byte[] b = Files.readAllBytes(f);
            b[1] = 'X';
            Files.write(f, b);
            expectFormatError(f, "no HDF5 signature");
        }
    }

    @Test
    void truncatedCopies() throws Exception {
        for (String layout : LAYOUTS) {
            byte[] full = Files.readAllBytes(LocalFeaturesTest.fixture(layout));
            for (int len : new int[]{8, 100, 600, 1500, full.length / 2, full.length - 1}) {
                Path f = copy(layout, "trunc_" + layout + "_" + len);
                Files.write(f, Arrays.copyOf(full, len));
                FormatException e = expectFormatError(f);
                if (len >= 100) {
                    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
                }
            }
        }
    }

    private Path jhdf(String name, java.util.function.Consumer<WritableHdfFile> body) {
        Path f = tmp.resolve(name);
        try (WritableHdfFile w = HdfFile.write(f)) {
            body.accept(w);
        }
        return f;
    }

    @Test
    void wrongContentWrittenWithJhdf() throws Exception {
        Path other = jhdf("other.hdf5", w -> w.putDataset("other", new float[2][3][7]));
        expectFormatError(other, "missing dataset 'features'", "other");
        Path group = jhdf("group.hdf5", w -> w.putGroup("features"));
        expectFormatError(group, "'features' is a group");
        Path rank2 = jhdf("rank2.hdf5", w -> w.putDataset("features", new float[7][21]));
        expectFormatError(rank2, "rank 2", "[7, 21]");
        Path ints = jhdf("ints.hdf5", w -> w.putDataset("features", new int[2][3][7]));
        expectFormatError(ints, "dtype int32");
        Path narrow = jhdf("narrow.hdf5", w -> w.putDataset("features", new float[2][3][4]));
        expectFormatError(narrow, "last dimension 4");
        Path five = jhdf("five.hdf5", w -> w.putDataset("features", new float[2][3][5]));
        expectFormatError(five, "last dimension 5");
    }

    @Test
    void virtualWithMissingOrBrokenPart() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("lonely"));
        Path alone = Files.copy(LocalFeaturesTest.fixture("virtual"), dir.resolve("local_virtual.hdf5"));
        expectFormatError(alone, "local_part0.hdf5", "missing");

        Path master = copy("virtual", "brokenpart");
        Path part1 = master.resolveSibling("local_part1.hdf5");
        byte[] b = Files.readAllBytes(part1);
        Files.write(part1, Arrays.copyOf(b, b.length / 2));
        expectFormatError(master, "local_part1.hdf5", "truncated");

        Files.write(part1, Arrays.copyOf(b, b.length)); // whole again, but with the wrong K
        Path wrongShape = master.resolveSibling("local_part0.hdf5");
        Files.delete(wrongShape);
        try (WritableHdfFile w = HdfFile.write(wrongShape)) {
            w.putDataset("features", new float[4][19][21]);
        }
        expectFormatError(master, "does not match");
    }

    /**
     * Random single-byte corruption of the HDF5 metadata of every layout: each copy must either read completely
     * or fail with a FormatException naming the file, and quickly.
     */
    @Test
    void randomByteCorruptionNeverEscapes() throws Exception {
        Random rnd = new Random(20250611);
        int failures = 0;
        int cases = 0;
        for (String layout : LAYOUTS) {
            byte[] full = Files.readAllBytes(LocalFeaturesTest.fixture(layout));
            // the bytes that matter: non-zero bytes of the metadata (contiguous data starts at 2048)
            int limit = Math.min(full.length, layout.equals("contiguous") || layout.equals("compound") ? 2048 : 4096);
            int[] candidates = java.util.stream.IntStream.range(0, limit).filter(i -> full[i] != 0).toArray();
            for (int t = 0; t < CORRUPT_COPIES; t++) {
                Path f = copy(layout, "fuzz_" + layout + "_" + t);
                byte[] b = full.clone();
                int pos = candidates[rnd.nextInt(candidates.length)];
                b[pos] ^= (byte) (1 + rnd.nextInt(255));
                Files.write(f, b);
                cases++;
                String outcome = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                    try {
                        openAndReadAll(f);
                        return "read";
                    } catch (FormatException e) {
                        return f.equals(e.file()) ? "rejected" : "FormatException naming " + e.file();
                    } catch (Throwable e) {
                        return "escaped: " + e;
                    }
                }, f + " byte " + pos);
                if (outcome.equals("rejected")) {
                    failures++;
                } else if (!outcome.equals("read")) {
                    fail(layout + ": corrupt byte " + pos + " of " + f + " -> " + outcome);
                }
            }
        }
        assertTrue(failures > 0 && cases == 4 * CORRUPT_COPIES, failures + " of " + cases + " corrupt copies rejected");
    }

    /** Broken files only h5py can write (compound types, virtual datasets with gaps): skipped without it. */
    @Test
    void wrongContentWrittenWithH5py() throws Exception {
        String python = Fixtures.python("h5py", "numpy");
        Assumptions.assumeTrue(python != null, "no Python with h5py and numpy: skipping h5py-made broken files");
        String script = String.join("\n",
                "import sys, os, h5py, numpy as np",
                "d = sys.argv[1]",
                "def mk(name, **kw):",
                "    with h5py.File(os.path.join(d, name), 'w') as f: f.create_dataset('features', **kw)",
                "mk('cmp_members.hdf5', data=np.zeros(3, dtype=[('a', '<f4', (4, 5)), ('b', '<f2', (4, 8))]))",
                "mk('cmp_meta4.hdf5', data=np.zeros(3, dtype=[('metadata', '<f4', (4, 4)), ('descriptor', '<f2', (4, 8))]))",
                "mk('cmp_int.hdf5', data=np.zeros(3, dtype=[('metadata', '<f4', (4, 5)), ('descriptor', '<i2', (4, 8))]))",
                "mk('cmp_k.hdf5', data=np.zeros(3, dtype=[('metadata', '<f4', (4, 5)), ('descriptor', '<f2', (3, 8))]))",
                "mk('cmp_2d.hdf5', data=np.zeros((3, 2), dtype=[('metadata', '<f4', (4, 5)), ('descriptor', '<f2', (4, 8))]))",
                "mk('strings.hdf5', data=np.array([b'abc', b'def']))",
                "mk('int64.hdf5', data=np.zeros((2, 3, 9), dtype='<i8'))",
                "with h5py.File(os.path.join(d, 'src.hdf5'), 'w') as f: f['features'] = np.zeros((2, 3, 9), 'f4')",
                "lay = h5py.VirtualLayout(shape=(5, 3, 9), dtype='f4')",
                "lay[0:2] = h5py.VirtualSource('src.hdf5', 'features', shape=(2, 3, 9))",
                "with h5py.File(os.path.join(d, 'vgap.hdf5'), 'w') as f: f.create_virtual_dataset('features', lay, fillvalue=0)",
                "lay = h5py.VirtualLayout(shape=(2, 3, 9), dtype='f4')",
                "lay[:, :, 0:4] = h5py.VirtualSource('src.hdf5', 'features', shape=(2, 3, 9))[:, :, 0:4]",
                "lay[:, :, 4:9] = h5py.VirtualSource('src.hdf5', 'features', shape=(2, 3, 9))[:, :, 4:9]",
                "with h5py.File(os.path.join(d, 'vcols.hdf5'), 'w') as f: f.create_virtual_dataset('features', lay)",
                "lay = h5py.VirtualLayout(shape=(2, 3, 9), dtype='i4')",
                "lay[:] = h5py.VirtualSource('src.hdf5', 'features', shape=(2, 3, 9))",
                "with h5py.File(os.path.join(d, 'vint.hdf5'), 'w') as f: f.create_virtual_dataset('features', lay)");
        Fixtures.runPython(python, script, tmp.toString());
        expectFormatError(tmp.resolve("cmp_members.hdf5"), "lack the members 'metadata'");
        expectFormatError(tmp.resolve("cmp_meta4.hdf5"), "'metadata' is float32[4,4]");
        expectFormatError(tmp.resolve("cmp_int.hdf5"), "'descriptor' is int16[4,8]");
        expectFormatError(tmp.resolve("cmp_k.hdf5"), "'descriptor' is float16[3,8]");
        expectFormatError(tmp.resolve("cmp_2d.hdf5"), "shape [3, 2]");
        expectFormatError(tmp.resolve("strings.hdf5"), "dtype string");
        expectFormatError(tmp.resolve("int64.hdf5"), "dtype int64");
        expectFormatError(tmp.resolve("vgap.hdf5"), "images [2, 5) are not mapped");
        expectFormatError(tmp.resolve("vcols.hdf5"), "whole images");
        expectFormatError(tmp.resolve("vint.hdf5"), "dtype int32");
    }
}
