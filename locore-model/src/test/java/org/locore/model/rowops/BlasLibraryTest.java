package org.locore.model.rowops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.blas.Blas;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
