package org.locore.model.rowops;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.nd4j.linalg.api.blas.Blas;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Chooses the BLAS library behind ND4J's CPU backend and {@link StridedGemm}: OpenBLAS (ND4J's own, 0.3.19) or
 * Intel oneMKL, which ND4J's OpenBLAS bindings load in its place when asked to (JavaCPP's
 * {@code org.bytedeco.openblas.load=mkl_rt}). On this project's Sapphire Rapids machine MKL runs the attention's
 * K = 64 GEMMs 15-30% faster and the ViT and the training pass 6-20% faster (BENCHMARKS.md); results agree with
 * OpenBLAS's within float rounding (the parity tests run on both), and MKL runs in its reproducible mode, so that
 * runs repeat bit for bit.
 *
 * <p>The choice must be made before ND4J first loads its native libraries, so programs call {@link #select()}
 * first thing in {@code main} ({@code bin/locore} and the benchmarks do). The system property {@value #PROPERTY}
 * says what to load: {@code auto} (default: MKL on an Intel x86-64 Linux CPU when its libraries, the
 * {@code org.bytedeco:mkl} {@code linux-x86_64-redist} jar, are on the class path; OpenBLAS otherwise),
 * {@code mkl} (MKL or an error saying what is missing) or {@code openblas}. {@code bin/locore} puts the MKL jar
 * that the build copies to {@code locore-apps/target/blas/} on the class path; library users add that dependency
 * themselves.
 */
public final class BlasLibrary {
    /** System property naming the BLAS library: {@code auto}, {@code mkl} or {@code openblas}. */
    public static final String PROPERTY = "locore.blas";
    /** JavaCPP's property that makes ND4J's OpenBLAS bindings load another library. */
    static final String JAVACPP_LOAD = "org.bytedeco.openblas.load";
    /** Where the MKL redistributable jar keeps its Linux libraries. */
    static final String MKL_RESOURCES = "/org/bytedeco/mkl/linux-x86_64/";

    private static final Logger LOG = LoggerFactory.getLogger(BlasLibrary.class);
    private static Choice selected;

    /** The BLAS library in use. */
    public enum Choice {
        /** OpenBLAS, ND4J's default. */
        OPENBLAS,
        /** Intel oneMKL, loaded in OpenBLAS's place. */
        MKL
    }

    private BlasLibrary() {
    }

    /**
     * Selects the BLAS library as {@value #PROPERTY} says (once per JVM; later calls return the first answer). Call
     * it before anything uses ND4J: once ND4J has loaded OpenBLAS this only reports what is loaded.
     *
     * @return the library ND4J will use
     * @throws IllegalArgumentException when the property has another value, or asks for MKL where it cannot load
     */
    public static synchronized Choice select() {
        if (selected != null) {
            return selected;
        }
        String preset = System.getProperty(JAVACPP_LOAD, "");
        if (!preset.isEmpty()) {
            selected = preset.toLowerCase(Locale.ROOT).startsWith("mkl") ? Choice.MKL : Choice.OPENBLAS;
            LOG.info("BLAS: {} ({}={} set by the caller)", selected, JAVACPP_LOAD, preset);
            return selected;
        }
        if (Loader.getLoadedLibraries().keySet().stream().anyMatch(k -> k.contains("openblas"))) {
            selected = Choice.OPENBLAS;
            LOG.warn("BLAS: OpenBLAS is already loaded; {} only takes effect before ND4J's first use", PROPERTY);
            return selected;
        }
        String want = System.getProperty(PROPERTY, "auto");
        boolean mklPresent = BlasLibrary.class.getResource(MKL_RESOURCES + "libmkl_rt.so.2") != null;
        Choice choice = decide(want, System.getProperty("os.name", ""), System.getProperty("os.arch", ""),
                cpuVendor(), mklPresent);
        if (choice == Choice.MKL) {
            try {
                // MKL's threading layer calls the Intel OpenMP runtime, which must be visible to it (loaded globally)
                File omp = Loader.cacheResource(MKL_RESOURCES + "libiomp5.so");
                Loader.loadGlobal(omp.getAbsolutePath());
                System.setProperty(JAVACPP_LOAD, "mkl_rt");
                Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class); // MKL in OpenBLAS's place
                reproducible();
            } catch (IOException | RuntimeException | LinkageError e) {
                System.clearProperty(JAVACPP_LOAD);
                if (want.trim().equalsIgnoreCase("mkl")) {
                    throw new IllegalArgumentException(PROPERTY + "=mkl: cannot load MKL: " + e, e);
                }
                LOG.warn("BLAS: MKL present but it does not load ({}); using OpenBLAS", e.toString());
                choice = Choice.OPENBLAS;
            }
        }
        selected = choice;
        LOG.info("BLAS: {} ({}={}; set it, or LOCORE_BLAS for bin/locore, to openblas or mkl to choose)",
                choice == Choice.MKL ? "Intel oneMKL" : "OpenBLAS", PROPERTY, want);
        return choice;
    }

    /**
     * Sets the BLAS library's thread count for the GEMMs that follow, as ND4J's {@code Blas.setMaxThreads} does
     * (OpenBLAS: {@code openblas_set_num_threads}; MKL: its global, this thread's and the BLAS domain's counts),
     * but through the library's functions looked up once: ND4J looks them up by name in every loaded library on
     * every call, 0.3 ms with OpenBLAS and 1.1 ms with MKL per call against 0.1 us here, which added up in the
     * attention's parallel jobs ({@link Workers#jobs} switches to one thread and back around each batch of jobs).
     * ND4J's own record of the count ({@code getMaxThreads}) is not changed: restore what it says when done.
     */
    public static void setThreads(int n) {
        ThreadSetters t = setters();
        if (t.mklGlobal != null) {
            t.mklGlobal.call(n);
            t.mklLocal.call(n);
            t.mklDomain.call(n, MKL_DOMAIN_ALL);
            t.mklDomain.call(n, MKL_DOMAIN_BLAS);
        } else if (t.openblas != null) {
            t.openblas.call(n);
        } else {
            Nd4j.factory().blas().setMaxThreads(n);
        }
    }

    /** Threads on which {@link #sleepAfterGemms} has run. */
    private static final ThreadLocal<Boolean> SLEEPS_AFTER_GEMMS = ThreadLocal.withInitial(() -> false);

    /**
     * Makes the OpenMP threads of the multi-threaded MKL GEMMs that the calling thread starts sleep as soon as each
     * GEMM is done ({@link #setSpinWait setSpinWait(0)}) instead of spinning for Intel OpenMP's default 200 ms: the
     * executors run Java worker threads (row kernels, attention jobs) right after their GEMMs, and a spinning
     * OpenMP thread took a core from them (the ViT forward took 4.0 instead of 3.5 s per image on 2 cores, see
     * BENCHMARKS.md). Once per thread ({@link Workers} calls it before starting workers); nothing when the
     * environment sets {@code KMP_BLOCKTIME} (the user's choice), the system property
     * {@code locore.blas.sleepAfterGemms} is {@code false}, or the BLAS library is OpenBLAS. (Intel OpenMP also
     * stops spinning on its own once it counts more threads than cores, but only for threads that never set a
     * value, and only from then on.)
     */
    public static void sleepAfterGemms() {
        if (SLEEPS_AFTER_GEMMS.get()) {
            return;
        }
        SLEEPS_AFTER_GEMMS.set(true);
        if (System.getenv("KMP_BLOCKTIME") == null
                && Boolean.parseBoolean(System.getProperty("locore.blas.sleepAfterGemms", "true"))) {
            setSpinWait(0); // nothing with OpenBLAS
        }
    }

    /**
     * Sets how long the OpenMP threads of the multi-threaded MKL GEMMs that the calling thread starts keep spinning
     * after each GEMM before they sleep (Intel OpenMP's {@code kmp_set_blocktime}, which applies to the calling
     * thread's teams; the environment variable {@code KMP_BLOCKTIME} sets the default, 200 ms). Does nothing with
     * OpenBLAS.
     *
     * @return whether the setting was applied (MKL with the Intel OpenMP runtime loaded)
     */
    public static boolean setSpinWait(int millis) {
        ThreadSetters t = setters();
        if (t.blocktime == null) {
            return false;
        }
        t.blocktime.call(millis);
        return true;
    }

    /**
     * The calling thread's spin wait in milliseconds ({@code kmp_get_blocktime}), or -1 without MKL. The function
     * takes no argument; it is called through an {@code int f(int)} pointer, whose argument register it ignores
     * (x86-64, the only platform MKL is wired up for).
     */
    static int spinWait() {
        ThreadSetters t = setters();
        return t.blocktimeGet == null ? -1 : t.blocktimeGet.call(0);
    }

    /** MKL's function domains for {@code MKL_Domain_Set_Num_Threads}: all of them, BLAS. */
    private static final int MKL_DOMAIN_ALL = 0;
    private static final int MKL_DOMAIN_BLAS = 1;
    private static ThreadSetters setters;

    /** The loaded library's thread-count functions, looked up on first use. */
    static synchronized ThreadSetters setters() {
        if (setters == null) {
            Nd4j.factory().blas(); // ND4J's BLAS loaded
            Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
            setters = new ThreadSetters(Loader.addressof("MKL_Set_Num_Threads"),
                    Loader.addressof("MKL_Set_Num_Threads_Local"), Loader.addressof("MKL_Domain_Set_Num_Threads"),
                    Loader.addressof("openblas_set_num_threads"), Loader.addressof("kmp_set_blocktime"),
                    Loader.addressof("kmp_get_blocktime"));
        }
        return setters;
    }

    /** The thread-count functions of the loaded BLAS library (null where it has none). */
    static final class ThreadSetters {
        final Setter mklGlobal;
        final IntFunction mklLocal;
        final DomainSetter mklDomain;
        final Setter openblas;
        /** Intel OpenMP's {@code kmp_set_blocktime} and {@code kmp_get_blocktime}, with MKL only. */
        final Setter blocktime;
        final IntFunction blocktimeGet;

        ThreadSetters(Pointer mklGlobal, Pointer mklLocal, Pointer mklDomain, Pointer openblas, Pointer blocktime,
                      Pointer blocktimeGet) {
            boolean mkl = mklGlobal != null && mklLocal != null && mklDomain != null;
            this.mklGlobal = mkl ? Setter.of(mklGlobal) : null;
            this.mklLocal = mkl ? IntFunction.of(mklLocal) : null;
            this.mklDomain = mkl ? DomainSetter.of(mklDomain) : null;
            this.openblas = !mkl && openblas != null ? Setter.of(openblas) : null;
            boolean omp = mkl && blocktime != null && blocktimeGet != null;
            this.blocktime = omp ? Setter.of(blocktime) : null;
            this.blocktimeGet = omp ? IntFunction.of(blocktimeGet) : null;
        }
    }

    /** {@code void f(int)} at an address (the JNI code of ND4J's OpenBLAS bindings calls it). */
    static final class Setter extends openblas_nolapack.SetNumThreads {
        static Setter of(Pointer function) {
            Setter s = new Setter();
            s.put(function);
            return s;
        }
    }

    /**
     * {@code int f(int)} at an address, e.g. {@code MKL_Set_Num_Threads_Local} (returns this thread's previous
     * count, 0 meaning the global one) or {@code MKL_CBWR_Set}.
     */
    static final class IntFunction extends openblas_nolapack.MklSetNumThreadsLocal {
        static IntFunction of(Pointer function) {
            IntFunction s = new IntFunction();
            s.put(function);
            return s;
        }
    }

    /** {@code int MKL_Domain_Set_Num_Threads(int, int domain)}. */
    static final class DomainSetter extends openblas_nolapack.MklDomainSetNumThreads {
        static DomainSetter of(Pointer function) {
            DomainSetter s = new DomainSetter();
            s.put(function);
            return s;
        }
    }

    /** The BLAS library ND4J calls (loading ND4J if it is not loaded yet). */
    public static Choice inUse() {
        return Nd4j.factory().blas().getBlasVendor() == Blas.Vendor.MKL ? Choice.MKL : Choice.OPENBLAS;
    }

    /** MKL's conditional numerical reproducibility settings: the automatic code branch, strict mode. */
    static final int MKL_CBWR_AUTO = 2;
    static final int MKL_CBWR_STRICT = 0x10000;
    /** {@code MKL_CBWR_Get}'s argument for all settings. */
    static final int MKL_CBWR_ALL = ~0;

    /**
     * Turns on MKL's conditional numerical reproducibility (automatic branch, strict mode) unless the environment
     * variable {@code MKL_CBWR} already chooses: without it MKL's results depend on the arrays' memory alignment,
     * and training on the same data gave different models from run to run (the demo's mAP moved by 2 points);
     * with it two runs agree bit for bit, as with OpenBLAS.
     */
    private static void reproducible() {
        if (System.getenv("MKL_CBWR") != null) {
            LOG.info("BLAS: MKL_CBWR={} (from the environment)", System.getenv("MKL_CBWR"));
            return;
        }
        int status = IntFunction.of(Loader.addressof("MKL_CBWR_Set")).call(MKL_CBWR_AUTO | MKL_CBWR_STRICT);
        if (status != 0) {
            LOG.warn("BLAS: MKL's reproducible mode did not switch on (MKL_CBWR_Set status {}): results may differ in "
                    + "the last bits from run to run", status);
        }
    }

    /** MKL's reproducibility settings ({@code MKL_CBWR_Get(MKL_CBWR_ALL)}), or -1 when MKL is not loaded. */
    static int mklReproducibility() {
        Pointer get = Loader.addressof("MKL_CBWR_Get");
        return get == null ? -1 : IntFunction.of(get).call(MKL_CBWR_ALL);
    }

    /**
     * The choice for a property value on a machine: {@code auto} takes MKL on an Intel x86-64 Linux CPU when MKL's
     * libraries are present, OpenBLAS otherwise; {@code mkl} requires all three.
     *
     * @throws IllegalArgumentException for an unknown value, or {@code mkl} where MKL cannot run, naming why
     */
    static Choice decide(String want, String osName, String osArch, String cpuVendor, boolean mklPresent) {
        String w = want == null ? "auto" : want.trim().toLowerCase(Locale.ROOT);
        boolean linuxX64 = osName.toLowerCase(Locale.ROOT).startsWith("linux")
                && (osArch.equals("amd64") || osArch.equals("x86_64"));
        boolean intel = "GenuineIntel".equals(cpuVendor);
        switch (w) {
            case "openblas":
                return Choice.OPENBLAS;
            case "auto":
                return linuxX64 && intel && mklPresent ? Choice.MKL : Choice.OPENBLAS;
            case "mkl":
                if (!linuxX64) {
                    throw new IllegalArgumentException(PROPERTY + "=mkl: MKL is wired up for Linux x86-64 only, not "
                            + osName + " " + osArch);
                }
                if (!mklPresent) {
                    throw new IllegalArgumentException(PROPERTY + "=mkl: MKL's libraries are not on the class path "
                            + "(the org.bytedeco:mkl jar with classifier linux-x86_64-redist, resources "
                            + MKL_RESOURCES + ")");
                }
                return Choice.MKL;
            default:
                throw new IllegalArgumentException(PROPERTY + " must be auto, mkl or openblas, not '" + want + "'");
        }
    }

    /** The CPU's vendor string from {@code /proc/cpuinfo} (e.g. {@code GenuineIntel}), or "" when unknown. */
    static String cpuVendor() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("vendor_id")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("no /proc/cpuinfo: {}", e.toString());
        }
        return "";
    }
}
