package org.locore.model.locore;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.locore.model.longformer.LongformerConfig;
import org.locore.model.longformer.LongformerExecutor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LOCORE-base geometry (5120 tokens, hidden 768, 12 heads, FFN 3072, 12 layers, window 512, D = 48, K = 100) with
 * random weights, batch 1, on the ND4J CPU backend: seconds per forward pass, CPU seconds per forward, achieved
 * GFLOP/s against the machine's sgemm rate measured in the same JVM ({@code [5120, 768] x [768, 3072]} through
 * {@code Nd4j.gemm}; its best single product and its mean, {@link org.locore.testing.GemmRate}, at the start and
 * around each timed run) and, for the eager forward, against the rate of its own FFN input GEMMs (the same product,
 * {@link LongformerExecutor#FFN_IN_STAGE}, timed inside the run), the process's peak resident memory, and the load
 * average. One variant per JVM, so that the peak memory is that variant's:
 * <ul>
 *   <li>{@code eager}: {@link ForwardPath#EAGER} (the default forward), {@code dense}: {@link ForwardPath#EAGER_DENSE},
 *       {@code graph}: {@link ForwardPath#GRAPH} (the SameDiff graph);</li>
 *   <li>{@code fwdbwd}: {@link LocoreModel#gradients} (forward + backward of one training sequence, eager, dropout
 *       off, the default checkpointing), {@code fwdbwd-lean}: the same with
 *       {@link org.locore.model.longformer.LongformerBackprop.Checkpointing#LEAN}, {@code fwdbwd-dropout}: with
 *       dropout 0.1 (masks drawn as for the graph), {@code fwdbwd-graph}: {@link GradientPath#GRAPH} (SameDiff);</li>
 *   <li>{@code profile}: seconds per stage of the eager encoder.</li>
 * </ul>
 *
 * <p>Run: {@code mvn -B -o -q -pl locore-model test-compile dependency:build-classpath
 * -Dmdep.outputFile=target/cp.txt && /usr/bin/time -v java -cp
 * locore-model/target/test-classes:locore-model/target/classes:$(cat locore-model/target/cp.txt)
 * org.locore.model.locore.LocoreBenchmark VARIANT [runs] [layers]}. As a test (eager, opt-in):
 * {@code -Dtest=LocoreBenchmark -Dlocore.bench=true [-Dlocore.bench.layers=N]}.
 */
public final class LocoreBenchmark {
    static final int D = 48;
    static final int K = 100;
    static final int TOKENS = 5120;
    /** The FFN width (intermediate size) of LOCORE-base. */
    static final int FFN = 3072;

    @Test
    void baseForward() {
        Assumptions.assumeTrue(Boolean.getBoolean("locore.bench"), "benchmark: run with -Dlocore.bench=true");
        int layers = Integer.getInteger("locore.bench.layers", 12);
        LocoreModel m = model(layers);
        LocoreModel.Output first = m.forward(inputs(false));
        assertEquals(5050, first.logits().size(1));
        assertTrue(Double.isFinite(first.logits().sumNumber().doubleValue()));
        System.err.println(run(m, "eager", Integer.getInteger("locore.bench.runs", 2), layers));
    }

    /**
     * @param args variant ({@code eager | dense | graph | fwdbwd | fwdbwd-lean | fwdbwd-dropout | fwdbwd-graph |
     *             profile | subblocks}), timed runs after the first (default 3;
     *             0: report the first run), layers (default 12)
     */
    public static void main(String[] args) throws Exception {
        // MKL or OpenBLAS (-Dlocore.blas=...), before ND4J loads
        System.out.println("BLAS library: " + org.locore.model.rowops.BlasLibrary.select());
        String variant = args.length > 0 ? args[0] : "eager";
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int layers = args.length > 2 ? Integer.parseInt(args[2]) : 12;
        System.out.printf(Locale.ROOT, "threads: %d cores, ND4J max threads %d, OMP_NUM_THREADS=%s, load %s%n",
                Runtime.getRuntime().availableProcessors(), Nd4j.getEnvironment().maxThreads(),
                System.getenv("OMP_NUM_THREADS"), load());
        org.locore.testing.GemmRate.Sample gemm = org.locore.testing.GemmRate.sample(TOKENS, 6);
        System.out.printf(Locale.ROOT, "GEMM [5120,768]x[768,3072] via Nd4j.gemm: best of 6 %.1f GFLOP/s, mean of the 6"
                + " %.1f GFLOP/s (load %s)%n", gemm.best(), gemm.mean(), load());
        LocoreModel m = model(layers);
        if (variant.equals("profile")) {
            profile(m, layers, runs);
            return;
        }
        if (variant.equals("subblocks")) {
            compareSubBlocks(m, layers, runs);
            return;
        }
        if (variant.startsWith("profile-fwdbwd")) {
            profileTraining(m, layers, runs, variant.endsWith("-lean")
                    ? org.locore.model.longformer.LongformerBackprop.Checkpointing.LEAN
                    : org.locore.model.longformer.LongformerBackprop.Checkpointing.FAST, variant.contains("dropout"));
            return;
        }
        System.out.println(run(m, variant, runs, layers));
        org.locore.testing.GemmRate.Sample gemmAfter = org.locore.testing.GemmRate.sample(TOKENS, 6);
        System.out.printf(Locale.ROOT, "GEMM again after the runs: best %.1f, mean %.1f GFLOP/s; peak RSS %s; load %s%n",
                gemmAfter.best(), gemmAfter.mean(), peakRss(), load());
    }

    static LocoreModel model(int layers) {
        LocoreConfig cfg = LocoreConfig.of(LongformerConfig.base()).withLayersKept(layers);
        Nd4j.getRandom().setSeed(1);
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : LocoreModel.expectedShapes(cfg.longformer()).entrySet()) {
            long[] shape = e.getValue().clone();
            if (shape[0] < 0) shape[0] = 3;
            params.put(e.getKey(), Nd4j.randn(DataType.FLOAT, shape).muli(0.02));
        }
        return LocoreModel.create(cfg, params);
    }

    static LocoreInputs inputs(boolean withLabels) {
        int h = 768;
        INDArray positive = null;
        if (withLabels) {
            positive = Nd4j.zeros(DataType.LONG, 1, K);
            for (int i = 0; i < K; i += 7) positive.putScalar(0, i, 1);
        }
        return new LocoreInputs(Nd4j.randn(DataType.FLOAT, 1, D, h), Nd4j.zeros(DataType.LONG, 1, D),
                Nd4j.zeros(DataType.LONG, 1, D), Nd4j.randn(DataType.FLOAT, 1, 1, h),
                Nd4j.randn(DataType.FLOAT, 1, K, D, h), Nd4j.zeros(DataType.LONG, 1, K, D),
                Nd4j.zeros(DataType.LONG, 1, K, D), Nd4j.randn(DataType.FLOAT, 1, K, 1, h), positive);
    }

    /**
     * Matrix-product FLOPs of one forward at this geometry: the five n-row projections (query, key, value, global
     * key, global value), the global-query projection of the G global rows, the output projection and the FFN,
     * plus attention: banded (w-query blocks against 3w window keys and G global keys, scores and values) or dense
     * (n x n), and the G global rows against all n keys.
     */
    static double gflop(int layers, boolean dense) {
        double n = TOKENS, e = 768, ffn = 3072, hd = 64, heads = 12, w = 256, g = D + 2 + K;
        double proj = 2 * n * e * 5 * e + 2 * g * e * e + 2 * n * e * e + 2 * 2 * n * e * ffn;
        double local = dense ? 4 * n * n * hd * heads : 4 * n * (3 * w + g) * hd * heads;
        double global = 4 * g * n * hd * heads;
        return layers * (proj + local + global) / 1e9;
    }

    /**
     * Matrix-product FLOPs of one eager training pass ({@link LocoreModel#gradients}, LOCORE-base geometry): the
     * forward ({@link #gflop}); the backward's two GEMMs per forward GEMM of the projections, output projection
     * and FFN; the attention backward (window and global parts: the scores recomputed, then the value,
     * probability, query and key gradients: 2.5x the forward's attention products); with {@code lean}
     * checkpointing also the recomputed projections and FFN input GEMMs.
     */
    static double gflopTraining(int layers, boolean lean) {
        double n = TOKENS, e = 768, ffn = 3072, hd = 64, heads = 12, w = 256, g = D + 2 + K;
        double proj = 2 * n * e * 5 * e + 2 * g * e * e + 2 * n * e * e + 2 * 2 * n * e * ffn;
        double attention = 4 * n * (3 * w + g) * hd * heads + 4 * g * n * hd * heads;
        double recompute = lean ? 2 * n * e * 5 * e + 2 * n * e * ffn : 0;
        return gflop(layers, false) + layers * (2 * proj + 2.5 * attention + recompute) / 1e9;
    }

    static String run(LocoreModel m, String variant, int runs, int layers) {
        boolean grad = variant.startsWith("fwdbwd");
        ForwardPath path = switch (variant) {
            case "eager", "fwdbwd", "fwdbwd-lean", "fwdbwd-dropout" -> ForwardPath.EAGER;
            case "fwdbwd-graph" -> ForwardPath.GRAPH;
            case "dense" -> ForwardPath.EAGER_DENSE;
            case "graph" -> ForwardPath.GRAPH;
            default -> throw new IllegalArgumentException("unknown variant " + variant);
        };
        LocoreInputs in = inputs(grad);
        long c0first = cpuNanos();
        long t0 = System.nanoTime();
        double check = once(m, in, variant);
        double firstS = (System.nanoTime() - t0) / 1e9;
        double firstCpu = (cpuNanos() - c0first) / 1e9;
        double best = runs == 0 ? firstS : Double.MAX_VALUE;
        double total = runs == 0 ? firstS : 0;
        double cpu = runs == 0 ? firstCpu : 0;
        double fl = !grad ? gflop(layers, path == ForwardPath.EAGER_DENSE)
                : path == ForwardPath.GRAPH ? 3 * gflop(layers, false)
                : gflopTraining(layers, variant.equals("fwdbwd-lean"));
        org.locore.testing.GemmRate.Bracket bracket = new org.locore.testing.GemmRate.Bracket(TOKENS);
        long[] cpuRun = new long[1];
        // the eager forward's own FFN input GEMMs are the reference product ([5120,768]x[768,3072], one per layer)
        boolean inside = variant.equals("eager");
        double ffnGflop = layers * 2.0 * TOKENS * 768 * FFN / 1e9;
        StringBuilder insideRuns = new StringBuilder();
        double insideRatioSum = 0;
        for (int r = 0; r < runs; r++) {
            double ffn0 = m.inferenceStageSeconds().getOrDefault(LongformerExecutor.FFN_IN_STAGE, 0.0);
            double s = bracket.time(fl, () -> {
                long c0 = cpuNanos();
                long start = System.nanoTime();
                once(m, in, variant);
                cpuRun[0] = cpuNanos() - c0;
                return (System.nanoTime() - start) / 1e9;
            });
            if (inside) {
                double rate = ffnGflop / (m.inferenceStageSeconds().get(LongformerExecutor.FFN_IN_STAGE) - ffn0);
                double ratio = fl / s / rate;
                insideRatioSum += ratio;
                insideRuns.append(String.format(Locale.ROOT, "%s%.2f s at %.0f%% of %.0f", r == 0 ? "" : "; ", s,
                        100 * ratio, rate));
            }
            cpu += cpuRun[0] / 1e9;
            best = Math.min(best, s);
            total += s;
        }
        String bracketed = runs > 0 ? String.format(Locale.ROOT, "%nbracketed: %s", bracket.summary()) : "";
        if (inside && runs > 0) {
            bracketed += String.format(Locale.ROOT, "%ninside: each run against the rate of its own %d FFN input GEMMs"
                    + " (the same product, timed inside the forward): mean %.0f%% (%s GFLOP/s)", layers,
                    100 * insideRatioSum / runs, insideRuns);
        }
        runs = Math.max(runs, 1);
        return String.format(Locale.ROOT, "%s: %d tokens x 768 x %d layers, batch 1: first %.2f s%s, mean %.2f s over"
                        + " %d runs (best %.2f s), CPU %.1f s/run; %.0f GFLOP%s -> %.1f GFLOP/s at the mean, %.1f at the"
                        + " best; check value %.4g; peak RSS so far %s; load %s%s",
                variant, TOKENS, layers, firstS, path == ForwardPath.GRAPH ? " (incl. graph build)" : "",
                total / runs, runs, best, cpu / runs, fl, !grad ? "" : path == ForwardPath.GRAPH
                        ? " (3x forward, nominal)" : " (forward + backward as computed)", fl / (total / runs),
                fl / best, check, peakRss(), load(), bracketed);
    }

    private static double once(LocoreModel m, LocoreInputs in, String variant) {
        return switch (variant) {
            case "fwdbwd" -> m.gradients(in).loss();
            case "fwdbwd-lean" -> m.gradients(in, null,
                    org.locore.model.longformer.LongformerBackprop.Checkpointing.LEAN).loss();
            case "fwdbwd-dropout" -> m.gradients(in, new java.util.Random(1)).loss();
            case "fwdbwd-graph" -> m.gradients(in, null, GradientPath.GRAPH).loss();
            case "eager" -> m.forward(in, ForwardPath.EAGER).logits().sumNumber().doubleValue();
            case "dense" -> m.forward(in, ForwardPath.EAGER_DENSE).logits().sumNumber().doubleValue();
            case "graph" -> m.forward(in, ForwardPath.GRAPH).logits().sumNumber().doubleValue();
            default -> throw new IllegalArgumentException("unknown variant " + variant);
        };
    }

    /**
     * The eager encoder with 1, 2 and 4 query sub-blocks per window block ({@code locore.longformer.subBlocks}), one
     * executor each (buffers kept), taking turns run by run in this JVM so that all see the same machine load.
     */
    static void compareSubBlocks(LocoreModel m, int layers, int runs) {
        LocoreModel.Output o = m.forward(inputs(false));
        m.releaseInferenceBuffers();
        int slots = o.layout().globalSlots();
        int[] counts = {1, 2, 4};
        LongformerExecutor[] ex = new LongformerExecutor[counts.length];
        String key = "locore.longformer.subBlocks";
        String was = System.getProperty(key);
        for (int i = 0; i < counts.length; i++) {
            System.setProperty(key, Integer.toString(counts[i]));
            ex[i] = new LongformerExecutor(m.config().longformer(), layers, LocoreModel.ENCODER_PREFIX,
                    m.parameters()::get, LongformerExecutor.Attention.BANDED).keepBuffers(true);
        }
        if (was == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, was);
        }
        double[] total = new double[counts.length];
        StringBuilder rounds = new StringBuilder();
        for (LongformerExecutor e : ex) {
            e.run(o.inputsEmbeds(), o.attentionMask(), o.globalAttentionMask(), slots); // warm-up, buffers
        }
        for (int r = 0; r < runs; r++) {
            rounds.append(" (");
            for (int i = 0; i < counts.length; i++) {
                long t0 = System.nanoTime();
                ex[i].run(o.inputsEmbeds(), o.attentionMask(), o.globalAttentionMask(), slots);
                double sec = (System.nanoTime() - t0) / 1e9;
                total[i] += sec;
                rounds.append(i == 0 ? "" : "/").append(String.format(Locale.ROOT, "%.2f", sec));
            }
            rounds.append(")");
        }
        System.out.printf(Locale.ROOT, "encoder pass with 1/2/4 window sub-blocks, %d rounds taking turns:%s%n", runs,
                rounds);
        for (int i = 0; i < counts.length; i++) {
            System.out.printf(Locale.ROOT, "  %d sub-blocks: mean %.2f s%n", counts[i], total[i] / runs);
        }
        for (LongformerExecutor e : ex) {
            e.release();
        }
    }

    /** Seconds per stage of the eager encoder (no embedding or classifier), summed over {@code runs} runs. */
    static void profile(LocoreModel m, int layers, int runs) {
        LocoreModel.Output o = m.forward(inputs(false));
        LongformerExecutor ex = new LongformerExecutor(m.config().longformer(), layers, LocoreModel.ENCODER_PREFIX,
                m.parameters()::get, LongformerExecutor.Attention.BANDED).keepBuffers(true); // as LocoreModel's
        int slots = o.layout().globalSlots();
        ex.run(o.inputsEmbeds(), o.attentionMask(), o.globalAttentionMask(), slots); // warm-up
        Map<String, Double> warm = ex.stageSeconds();
        long t0 = System.nanoTime();
        for (int r = 0; r < runs; r++) {
            ex.run(o.inputsEmbeds(), o.attentionMask(), o.globalAttentionMask(), slots);
        }
        double wall = (System.nanoTime() - t0) / 1e9 / runs;
        System.out.printf(Locale.ROOT, "profile, %d layers, mean of %d runs: %.2f s per encoder pass (load %s)%n",
                layers, runs, wall, load());
        for (Map.Entry<String, Double> e : ex.stageSeconds().entrySet()) {
            double s = (e.getValue() - warm.getOrDefault(e.getKey(), 0.0)) / runs;
            System.out.printf(Locale.ROOT, "  %-40s %7.3f s  %5.1f%%%n", e.getKey(), s, 100 * s / wall);
        }
    }

    /**
     * Seconds per stage of the eager training pass (encoder forward and backward; the embedding, classifier and
     * loss are not timed), summed over {@code runs} runs after a warm-up.
     */
    static void profileTraining(LocoreModel m, int layers, int runs,
                                org.locore.model.longformer.LongformerBackprop.Checkpointing mode, boolean dropout) {
        LocoreInputs in = inputs(true);
        SequenceLayout layout = new SequenceLayout(D, K, m.config().longformer().maxAttentionWindow(), true);
        SequenceLayout.Encoded enc = layout.encode(in, m.numScales());
        org.locore.model.longformer.LongformerBackprop encoder = EagerTraining.encoder(m.config(), m.parameters(), mode);
        java.util.Random rnd = dropout ? new java.util.Random(1) : null;
        EagerTraining.run(m.config(), m.parameters(), m.numScales(), layout, enc, rnd, encoder); // warm-up
        Map<String, Double> warm = encoder.stageSeconds();
        long t0 = System.nanoTime();
        for (int r = 0; r < runs; r++) {
            EagerTraining.run(m.config(), m.parameters(), m.numScales(), layout, enc, rnd, encoder);
        }
        double wall = (System.nanoTime() - t0) / 1e9 / runs;
        System.out.printf(Locale.ROOT, "training profile (%s%s), %d layers, mean of %d runs: %.2f s per pass; peak RSS %s"
                + " (load %s)%n", mode, dropout ? ", dropout 0.1" : "", layers, runs, wall, peakRss(), load());
        double sum = 0;
        for (Map.Entry<String, Double> e : encoder.stageSeconds().entrySet()) {
            double s = (e.getValue() - warm.getOrDefault(e.getKey(), 0.0)) / runs;
            sum += s;
            System.out.printf(Locale.ROOT, "  %-50s %7.3f s  %5.1f%%%n", e.getKey(), s, 100 * s / wall);
        }
        System.out.printf(Locale.ROOT, "  %-50s %7.3f s  %5.1f%%%n", "(not in a stage: embedding, classifier, loss)",
                wall - sum, 100 * (wall - sum) / wall);
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (Exception e) {
            return "n/a";
        }
    }

    static String peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return (kb >> 10) + " MiB";
                }
            }
        } catch (Exception e) {
            // not Linux
        }
        return "n/a";
    }
}
