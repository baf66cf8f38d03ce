package org.locore.model.vit;

import org.locore.model.rowops.RowOps;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Seconds per image of DINOv2 ViT-B/14-reg (random weights: width 768, depth 12, 12 heads, 4 registers) plus the
 * AMES detector on a 770x574 input (55x41 patches), on the ND4J CPU backend, and the process's peak resident
 * memory. In the same run it measures the machine's GEMM rate (OpenBLAS sgemm through ND4J on the MLP shape
 * {@code [2260, 768] x [768, 3072]}), so that the forward's rate can be compared with it, and the process CPU
 * time per image (less sensitive than wall time to other jobs on a shared machine). Prints lines for
 * BENCHMARKS.md.
 *
 * <p>Run: {@code mvn -B -o -q -pl locore-model test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * && java --add-modules jdk.incubator.vector -cp locore-model/target/test-classes:locore-model/target/classes:$(cat
 * locore-model/target/cp.txt) org.locore.model.vit.VitBenchmark [runs [threads [eager|graph|profile]]]}
 * ({@code profile}: the eager path, then its seconds per stage over the timed runs).
 */
public final class VitBenchmark {
    /** Tokens of a 770x574 image: 55x41 patches, CLS and 4 registers. */
    static final int TOKENS = 2255 + 5;

    private VitBenchmark() {
    }

    /**
     * @param args optional number of timed runs per setting (default 3), after one warm-up run; optionally a
     *             comma-separated list of thread counts (default: ND4J's own, one per core) to compare in the same
     *             JVM, taking turns run by run so that every setting sees the same machine load; optionally the
     *             path: {@code eager} (default), {@code graph} (the SameDiff reference), {@code profile} (eager,
     *             then seconds per stage) or {@code spin} (MKL's threads sleeping after each GEMM against
     *             spinning, taking turns)
     */
    public static void main(String[] args) throws Exception {
        // MKL or OpenBLAS (-Dlocore.blas=...), before ND4J loads
        System.out.println("BLAS library: " + org.locore.model.rowops.BlasLibrary.select());
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int[] threads = args.length > 1 ? java.util.Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[]{Nd4j.getEnvironment().maxThreads()};
        String variant = args.length > 2 ? args[2] : "eager";
        VitForwardPath path = variant.equals("graph") ? VitForwardPath.GRAPH : VitForwardPath.EAGER;
        setThreads(threads[0]);
        double gemm = org.locore.testing.GemmRate.measure(TOKENS);
        long t0 = System.nanoTime();
        Dinov2Vit vit = Dinov2Vit.random(VitConfig.vitB14Reg4(), 1);
        AmesDetector det = AmesDetector.random(768, 2);
        double buildS = (System.nanoTime() - t0) / 1e9;
        INDArray image = Nd4j.randn(DataType.FLOAT, 1, 3, 574, 770);
        double first = once(vit, det, image, path)[0];
        if (variant.equals("spin")) {
            compareSpinWait(vit, det, image, runs);
            return;
        }
        java.util.Map<String, Double> before = vit.eagerStageSeconds();
        int n = threads.length;
        double[] best = new double[n];
        java.util.Arrays.fill(best, Double.MAX_VALUE);
        double[] total = new double[n];
        double[] cpu = new double[n];
        double gflop = forwardGflop(VitConfig.vitB14Reg4(), TOKENS);
        org.locore.testing.GemmRate.Bracket bracket = new org.locore.testing.GemmRate.Bracket(TOKENS);
        for (int i = 0; i < runs; i++) {
            for (int g = 0; g < n; g++) {
                setThreads(threads[g]);
                double[] s = new double[2];
                if (g == 0) {
                    // the first thread setting's runs also against the GEMM rate just around them
                    bracket.time(gflop, () -> {
                        System.arraycopy(once(vit, det, image, path), 0, s, 0, 2);
                        return s[0];
                    });
                } else {
                    System.arraycopy(once(vit, det, image, path), 0, s, 0, 2);
                }
                best[g] = Math.min(best[g], s[0]);
                total[g] += s[0];
                cpu[g] += s[1];
            }
        }
        setThreads(threads[0]);
        double gemmAfter = org.locore.testing.GemmRate.measure(TOKENS);
        System.out.printf("GEMM [%d,768]x[768,3072] via Nd4j.gemm, %d threads: best %.1f GFLOP/s before, %.1f after "
                + "the forwards%n", TOKENS, threads[0], gemm, gemmAfter);
        gemm = Math.max(gemm, gemmAfter);
        System.out.printf("ViT-B/14-reg4 + AMES detector, 770x574 (2255 patches), %s path, ND4J CPU (%d cores), row "
                        + "kernels %s: build %.1f s, first (warm-up, %d threads) %.2f s%n", path,
                Runtime.getRuntime().availableProcessors(), RowOps.VECTOR_API ? "Vector API" : "scalar", buildS,
                threads[0], first);
        for (int g = 0; g < n; g++) {
            System.out.printf("  %d threads: mean %.2f s/image over %d runs (best %.2f s), CPU %.1f s/image; %.1f GFLOP/s at "
                            + "the best run = %.0f%% of the GEMM rate (%.0f GFLOP of matrix products, %.2f s at that rate)%n",
                    threads[g], total[g] / runs, runs, best[g], cpu[g] / runs, gflop / best[g], 100 * gflop / best[g] / gemm,
                    gflop, gflop / gemm);
        }
        if (bracket.count() > 0) {
            System.out.printf("  bracketed (%d threads): %s%n", threads[0], bracket.summary());
        }
        if (variant.equals("profile")) {
            java.util.Map<String, Double> after = vit.eagerStageSeconds();
            double sum = 0;
            for (var e : after.entrySet()) {
                sum += e.getValue() - before.getOrDefault(e.getKey(), 0.0);
            }
            System.out.printf("eager stages, seconds per image (mean of %d runs x %d thread settings), ViT only:%n", runs, n);
            for (var e : after.entrySet()) {
                double sec = (e.getValue() - before.getOrDefault(e.getKey(), 0.0)) / (runs * n);
                System.out.printf("  %-48s %7.3f s  %5.1f%%%n", e.getKey(), sec, 100 * sec * runs * n / sum);
            }
            System.out.printf("  %-48s %7.3f s; detector + top-100 + global: %.3f s/image%n", "total", sum / (runs * n),
                    detectorSeconds / (runs * n + 1));
        }
        System.out.printf("peak RSS %s, heap max %d MiB%n", peakRss(), Runtime.getRuntime().maxMemory() >> 20);
    }

    /**
     * MKL's OpenMP threads sleeping right after each GEMM ({@link
     * org.locore.model.rowops.BlasLibrary#sleepAfterGemms}, the default) against spinning 200 ms after each (Intel
     * OpenMP's default), taking turns run by run in this JVM so that both see the same machine load.
     */
    private static void compareSpinWait(Dinov2Vit vit, AmesDetector det, INDArray image, int runs) {
        String[] names = {"sleep", "spin"};
        int[] spinMillis = {0, 200};
        double[] total = new double[2];
        double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
        double[] cpu = new double[2];
        StringBuilder pairs = new StringBuilder();
        for (int i = 0; i < runs; i++) {
            for (int g = 0; g < 2; g++) {
                if (!org.locore.model.rowops.BlasLibrary.setSpinWait(spinMillis[g])) {
                    throw new IllegalStateException("the spin wait is MKL's: run with MKL");
                }
                double[] s = once(vit, det, image, VitForwardPath.EAGER);
                total[g] += s[0];
                cpu[g] += s[1];
                best[g] = Math.min(best[g], s[0]);
                pairs.append(g == 0 ? " (" : "/").append(String.format("%.2f", s[0])).append(g == 1 ? ")" : "");
            }
        }
        org.locore.model.rowops.BlasLibrary.setSpinWait(0);
        System.out.printf("MKL threads sleeping/spinning after each GEMM, %d runs each, taking turns: seconds per "
                + "image:%s%n", runs, pairs);
        for (int g = 0; g < 2; g++) {
            System.out.printf("  %-5s mean %.2f s/image (best %.2f s), CPU %.1f s/image%n", names[g], total[g] / runs,
                    best[g], cpu[g] / runs);
        }
    }

    /** Threads for libnd4j's own loops and for OpenBLAS. */
    static void setThreads(int n) {
        Nd4j.getEnvironment().setMaxThreads(n);
        Nd4j.getEnvironment().setMaxMasterThreads(n);
        Nd4j.factory().blas().setMaxThreads(n);
    }

    /** Matrix-product FLOPs of one forward (patch embedding, qkv, attention, projection, MLP, detector). */
    static double forwardGflop(VitConfig c, int t) {
        double w = c.width();
        double perBlock = 2.0 * t * w * 3 * w + 2.0 * 2 * t * (double) t * w + 2.0 * t * w * w
                + 2.0 * 2 * t * w * c.mlpHidden();
        double patch = 2.0 * (t - 5) * w * 3 * c.patchSize() * c.patchSize();
        double detector = 2.0 * (t - 5) * w * w;
        return (perBlock * c.depth() + patch + detector) / 1e9;
    }

    private static double detectorSeconds;

    private static double[] once(Dinov2Vit vit, AmesDetector det, INDArray image, VitForwardPath path) {
        long cpu0 = cpuNanos();
        long t = System.nanoTime();
        Dinov2Vit.Output o = vit.forward(image, path);
        long td = System.nanoTime();
        DetectorOutput d = det.detect(o.patchTokens(), path);
        d.topK(100);
        d.globalDescriptor();
        detectorSeconds += (System.nanoTime() - td) / 1e9;
        return new double[]{(System.nanoTime() - t) / 1e9, (cpuNanos() - cpu0) / 1e9};
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static String peakRss() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                return (kb >> 10) + " MiB";
            }
        }
        return "n/a";
    }
}
