package org.locore.data.features;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.locore.testing.Fixtures;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Layout variants beyond the fixtures, written by h5py when it is available (skipped otherwise): newer file
 * format versions (superblock 3, object header 2, link messages), odd chunk shapes and unwritten chunks,
 * other float types and byte orders, a user block, chunked compound records, and virtual datasets whose
 * sources are hyperslabs of their part files. The script also writes the logical values it stored.
 */
class LocalFeaturesH5pyLayoutsTest {
    @TempDir
    static Path dir;
    private static boolean made;

    @BeforeAll
    static void make() throws Exception {
        String python = Fixtures.python("h5py", "numpy");
        if (python == null) {
            return;
        }
        String script = String.join("\n",
                "import sys, os, h5py, numpy as np",
                "d = sys.argv[1]",
                "rng = np.random.default_rng(7)",
                "N, K, D = 9, 6, 4",
                "a = rng.standard_normal((N, K, 5 + D)).astype('f4')",
                "a[:, :, 2] = rng.integers(0, 3, (N, K)); a[:, :, 3] = rng.integers(0, 2, (N, K))",
                "def save(name, values):",
                "    np.ascontiguousarray(values, dtype='<f4').tofile(os.path.join(d, name + '.f32'))",
                "def mk(name, values, libver='earliest', userblock=0, **kw):",
                "    with h5py.File(os.path.join(d, name + '.hdf5'), 'w', libver=libver, userblock_size=userblock) as f:",
                "        f.create_dataset('features', data=values, **kw)",
                "    save(name, values.astype('f4'))",
                "mk('latest', a, libver='latest')",
                "mk('latest_chunked', a, libver='latest', chunks=(2, 4, 3), compression='gzip', shuffle=True)",
                "mk('odd_chunks', a, chunks=(2, 4, 3), compression='gzip')",
                "mk('f16', a.astype('f2'))",
                "mk('f64', a.astype('f8'), chunks=(4, 6, 9))",
                "mk('big_endian', a.astype('>f4'))",
                "mk('userblock', a, userblock=512)",
                "with h5py.File(os.path.join(d, 'sparse.hdf5'), 'w') as f:",
                "    ds = f.create_dataset('features', shape=a.shape, dtype='f4', chunks=(1, K, 5 + D), compression='gzip')",
                "    ds[2:5] = a[2:5]",
                "s = np.zeros_like(a); s[2:5] = a[2:5]; save('sparse', s)",
                "ct = np.dtype([('metadata', '<f4', (K, 5)), ('descriptor', '<f2', (K, D))])",
                "rec = np.zeros(N, dtype=ct); rec['metadata'] = a[:, :, :5]; rec['descriptor'] = a[:, :, 5:]",
                "logical = np.concatenate([rec['metadata'], rec['descriptor'].astype('f4')], axis=2)",
                "with h5py.File(os.path.join(d, 'compound_chunked.hdf5'), 'w') as f:",
                "    f.create_dataset('features', data=rec, chunks=(4,), compression='gzip')",
                "save('compound_chunked', logical)",
                "with h5py.File(os.path.join(d, 'compound_latest.hdf5'), 'w', libver='latest') as f:",
                "    f.create_dataset('features', data=rec)",
                "save('compound_latest', logical)",
                "os.makedirs(os.path.join(d, 'parts'), exist_ok=True)",
                "with h5py.File(os.path.join(d, 'parts', 'p0.hdf5'), 'w') as f: f['features'] = a[0:6]",
                "with h5py.File(os.path.join(d, 'parts', 'p1.hdf5'), 'w') as f:",
                "    f.create_dataset('features', data=a[4:9], chunks=(1, K, 5 + D), compression='gzip')",
                "for lib in ('earliest', 'latest'):",
                "    lay = h5py.VirtualLayout(shape=(7, K, 5 + D), dtype='f4')",
                "    lay[0:3] = h5py.VirtualSource('parts/p1.hdf5', 'features', shape=(5, K, 5 + D))[2:5]",
                "    lay[3:7] = h5py.VirtualSource('parts/p0.hdf5', 'features', shape=(6, K, 5 + D))[1:5]",
                "    with h5py.File(os.path.join(d, 'virtual_' + lib + '.hdf5'), 'w', libver=lib) as f:",
                "        f.create_virtual_dataset('features', lay)",
                "    save('virtual_' + lib, np.concatenate([a[6:9], a[1:5]]))");
        Fixtures.runPython(python, script, dir.toString());
        made = true;
    }

    private static float[] expected(String name) throws Exception {
        byte[] b = Files.readAllBytes(dir.resolve(name + ".f32"));
        float[] out = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    @ParameterizedTest
    @CsvSource({
            "latest, contiguous, float32, none, 9",
            "latest_chunked, chunked, float32, gzip+shuffle, 9",
            "odd_chunks, chunked, float32, gzip, 9",
            "f16, contiguous, float16, none, 9",
            "f64, chunked, float64, none, 9",
            "big_endian, contiguous, float32, none, 9",
            "userblock, contiguous, float32, none, 9",
            "sparse, chunked, float32, gzip, 9",
            "compound_chunked, compound, 'compound{metadata: float32[6,5], descriptor: float16[6,4]}', gzip, 9",
            "compound_latest, compound, 'compound{metadata: float32[6,5], descriptor: float16[6,4]}', none, 9",
            "virtual_earliest, virtual, float32, none, 7",
            "virtual_latest, virtual, float32, none, 7"})
    void readsLikeH5py(String name, String layout, String storedType, String compression, int n) throws Exception {
        Assumptions.assumeTrue(made, "no Python with h5py and numpy: skipping h5py-made layouts");
        float[] want = expected(name);
        try (LocalFeatures lf = LocalFeatures.open(dir.resolve(name + ".hdf5"))) {
            assertEquals(layout, lf.layout());
            assertEquals(storedType, lf.storedType());
            assertEquals(compression, lf.compression());
            assertArrayEquals(new long[]{n, 6, 9}, lf.shape());
            int per = 6 * 9;
            for (int i = 0; i < n; i++) {
                for (int rows : new int[]{6, 3}) {
                    float[] got = lf.readRows(i, rows);
                    assertArrayEquals(Arrays.copyOfRange(want, i * per, i * per + rows * 9), got,
                            name + " image " + i + " first " + rows + " rows");
                }
            }
            if (layout.equals("virtual")) {
                assertEquals(2, lf.partFiles().size());
                assertEquals(dir.resolve("parts/p1.hdf5").toAbsolutePath().normalize(),
                        lf.partFiles().get(0).toAbsolutePath().normalize());
            }
        }
    }
}
