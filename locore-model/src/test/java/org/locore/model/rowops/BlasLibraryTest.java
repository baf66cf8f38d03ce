package org.locore.model.rowops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.blas.Blas;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link BlasLibrary}: the choice for each property value and machine, and that the library selected when the test
 * session opened ({@code org.locore.testing.BlasSelection}) is the one ND4J actually calls, with its thread count
 * under ND4J's control (the parallel attention jobs set it to 1).
 */
class BlasLibraryTest {
    private static final String LINUX = "Linux";
    private static final String X64 = "amd64";
    private static final String INTEL = "GenuineIntel";

    @Test
    void autoTakesMklOnlyOnIntelLinuxWithItsLibraries() {
        assertEquals(BlasLibrary.Choice.MKL, BlasLibrary.decide("auto", LINUX, X64, INTEL, true));
        assertEquals(BlasLibrary.Choice.MKL, BlasLibrary.decide(null, LINUX, "x86_64", INTEL, true));
        assertEquals(BlasLibrary.Choice.OPENBLAS, BlasLibrary.decide("auto", LINUX, X64, INTEL, false));
        assertEquals(BlasLibrary.Choice.OPENBLAS, BlasLibrary.decide("auto", LINUX, X64, "AuthenticAMD", true));
        assertEquals(BlasLibrary.Choice.OPENBLAS, BlasLibrary.decide("auto", LINUX, "aarch64", "", true));
        assertEquals(BlasLibrary.Choice.OPENBLAS, BlasLibrary.decide("auto", "Mac OS X", X64, INTEL, true));
        assertEquals(BlasLibrary.Choice.OPENBLAS, BlasLibrary.decide(" OpenBLAS ", LINUX, X64, INTEL, true));
    }

    @Test
    void mklOnRequestOrAClearError() {
        assertEquals(BlasLibrary.Choice.MKL, BlasLibrary.decide("MKL", LINUX, X64, "AuthenticAMD", true));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> BlasLibrary.decide("mkl", LINUX, X64, INTEL, false));
        assertTrue(missing.getMessage().contains("org.bytedeco:mkl") && missing.getMessage().contains("redist"),
                missing.getMessage());
        IllegalArgumentException platform = assertThrows(IllegalArgumentException.class,
                () -> BlasLibrary.decide("mkl", "Windows 11", X64, INTEL, true));
        assertTrue(platform.getMessage().contains("Windows 11"), platform.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> BlasLibrary.decide("atlas", LINUX, X64, INTEL, true));
        assertTrue(unknown.getMessage().contains("'atlas'") && unknown.getMessage().contains(BlasLibrary.PROPERTY),
                unknown.getMessage());
    }

    @Test
    void theSelectedLibraryIsTheOneNd4jCalls() {
        String want = System.getProperty(BlasLibrary.PROPERTY, "auto");
        boolean mklPresent = BlasLibrary.class.getResource(BlasLibrary.MKL_RESOURCES + "libmkl_rt.so.2") != null;
        BlasLibrary.Choice expected = BlasLibrary.decide(want, System.getProperty("os.name"),
                System.getProperty("os.arch"), BlasLibrary.cpuVendor(), mklPresent);
        BlasLibrary.Choice chosen = BlasLibrary.select();
        assertEquals(expected, chosen, "selected at session start");
        Blas blas = Nd4j.factory().blas();
        assertEquals(chosen == BlasLibrary.Choice.MKL ? Blas.Vendor.MKL : Blas.Vendor.OPENBLAS, blas.getBlasVendor());
        assertEquals(chosen, BlasLibrary.inUse());
        int threads = blas.getMaxThreads();
        try {
            blas.setMaxThreads(1);
            assertEquals(1, blas.getMaxThreads(), "thread count after setMaxThreads(1)");
        } finally {
            blas.setMaxThreads(threads);
        }
        assertEquals(threads, blas.getMaxThreads());
    }

    /**
     * {@link BlasLibrary#setThreads} reaches the loaded library's own functions (MKL: its thread-local count, which
     * {@code MKL_Set_Num_Threads_Local} reports back; OpenBLAS: its setter is the one resolved) and GEMMs stay right
     * with the count switched as the parallel jobs switch it.
     */
    @Test
    void setThreadsReachesTheLoadedLibrary() {
        BlasLibrary.ThreadSetters t = BlasLibrary.setters();
        int threads = Nd4j.factory().blas().getMaxThreads();
        org.nd4j.linalg.api.ndarray.INDArray a = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.DOUBLE, 67, 45);
        org.nd4j.linalg.api.ndarray.INDArray b = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.DOUBLE, 45, 71);
        double[][] expected = new double[67][71];
        for (int i = 0; i < 67; i++) {
            for (int j = 0; j < 71; j++) {
                for (int k = 0; k < 45; k++) {
                    expected[i][j] += a.getDouble(i, k) * b.getDouble(k, j);
                }
            }
        }
        try {
            if (BlasLibrary.inUse() == BlasLibrary.Choice.MKL) {
                assertTrue(t.mklGlobal != null && t.mklDomain != null && t.openblas == null);
                BlasLibrary.setThreads(1);
                assertEquals(1, t.mklLocal.call(1), "MKL's thread-local count after setThreads(1)");
                assertProduct(expected, a.mmul(b));
                BlasLibrary.setThreads(threads);
                assertEquals(threads, t.mklLocal.call(threads), "after setThreads(" + threads + ")");
            } else {
                assertTrue(t.openblas != null && t.mklGlobal == null);
                BlasLibrary.setThreads(1);
                assertProduct(expected, a.mmul(b));
                BlasLibrary.setThreads(threads);
            }
            assertProduct(expected, a.mmul(b));
        } finally {
            BlasLibrary.setThreads(threads);
        }
    }

    /**
     * With MKL, a thread that starts {@link Workers} has its MKL threads sleep right after each GEMM (spin wait 0,
     * replacing what the thread had, here an explicit 200 ms) unless the environment sets {@code KMP_BLOCKTIME} or
     * {@code locore.blas.sleepAfterGemms} is false; {@link BlasLibrary#setSpinWait} sets the calling thread's value.
     * With OpenBLAS there is nothing to set.
     */
    @Test
    void workersLetMklThreadsSleepAfterGemms() throws Exception {
        java.util.concurrent.ExecutorService ex = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            if (BlasLibrary.inUse() != BlasLibrary.Choice.MKL) {
                assertEquals(-1, BlasLibrary.spinWait());
                assertFalse(BlasLibrary.setSpinWait(0));
                return;
            }
            int[] seen = ex.submit(() -> {
                assertTrue(BlasLibrary.setSpinWait(200));
                int before = BlasLibrary.spinWait();
                Workers.rows(2, 10, (k, r0, r1) -> { });
                int after = BlasLibrary.spinWait();
                assertTrue(BlasLibrary.setSpinWait(37));
                return new int[]{before, after, BlasLibrary.spinWait()};
            }).get();
            assertEquals(200, seen[0], "after setSpinWait(200)");
            boolean applies = System.getenv("KMP_BLOCKTIME") == null
                    && Boolean.parseBoolean(System.getProperty("locore.blas.sleepAfterGemms", "true"));
            assertEquals(applies ? 0 : 200, seen[1], "after starting Workers");
            assertEquals(37, seen[2], "after setSpinWait(37)");
        } finally {
            ex.shutdownNow();
        }
    }

    private static void assertProduct(double[][] expected, org.nd4j.linalg.api.ndarray.INDArray c) {
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[0].length; j++) {
                assertEquals(expected[i][j], c.getDouble(i, j), 1e-12 * (1 + Math.abs(expected[i][j])));
            }
        }
    }

    /**
     * With MKL, its reproducible mode (automatic branch, strict) is on unless the environment chooses; and two
     * training passes of the real-geometry fixture give the same loss and gradients bit for bit.
     */
    @Test
    void resultsRepeatBitForBit() throws java.io.IOException {
        if (BlasLibrary.inUse() == BlasLibrary.Choice.MKL && System.getenv("MKL_CBWR") == null) {
            assertEquals(BlasLibrary.MKL_CBWR_AUTO | BlasLibrary.MKL_CBWR_STRICT, BlasLibrary.mklReproducibility());
        }
        String name = "locore/locore_thin_real";
        org.locore.model.locore.LocoreModel m = org.locore.model.locore.LocoreModel.load(
                org.locore.testing.Fixtures.path(name + ".weights.safetensors"),
                org.locore.model.locore.LocoreConfig.read(org.locore.testing.Fixtures.path(name + ".json")));
        org.locore.model.locore.LocoreInputs in = org.locore.model.locore.LocoreInputs.read(
                org.locore.testing.Fixtures.path(name + ".inputs.safetensors"));
        org.locore.model.locore.LocoreModel.Gradients first = m.gradients(in);
        java.util.Map<String, float[]> firstGrads = new java.util.TreeMap<>();
        first.gradients().forEach((k, v) -> firstGrads.put(k, v.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT)
                .dup('c').data().asFloat()));
        m.releaseTrainingBuffers(); // new working arrays for the second pass
        org.nd4j.linalg.api.ndarray.INDArray shift = Nd4j.create(org.nd4j.linalg.api.buffer.DataType.FLOAT, 12345);
        org.locore.model.locore.LocoreModel.Gradients second = m.gradients(in);
        assertEquals(first.loss(), second.loss(), 0.0, "loss");
        int compared = 0;
        for (var e : firstGrads.entrySet()) {
            float[] again = second.gradients().get(e.getKey()).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT)
                    .dup('c').data().asFloat();
            org.junit.jupiter.api.Assertions.assertArrayEquals(e.getValue(), again, 0f, e.getKey());
            compared++;
        }
        assertTrue(compared > 10 && shift.length() == 12345, compared + " gradients compared");
    }
}
