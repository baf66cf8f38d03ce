package org.locore.data.shortlist;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Locale;

/**
 * Throughput of {@link ShortlistBuilder} on synthetic galleries (generated row by row on demand, never stored)
 * against the machine's ND4J GEMM rate, the roofline of the search: {@code 2 * Nq * N * D} flops.
 * <p>
 * Usage: {@code ShortlistBenchmark [M] [galleryRows:queries ...]}, default {@code 1600 100000:70 100000:1000
 * 1000000:70 1000000:300}. Prints one Markdown table row per configuration.
 */
public final class ShortlistBenchmark {
    private static final int DIM = 768;

    private ShortlistBenchmark() {
    }

    /** Deterministic pseudo-random rows in [-1, 1), computed from the row index (a stand-in for an mmap file). */
    static DescriptorSource synthetic(int n, long seed) {
        return DescriptorSource.of(n, DIM, (i, dst, off) -> {
            long s = seed * 0x9E3779B97F4A7C15L + i * 0xBF58476D1CE4E5B9L + 1;
            for (int k = 0; k < DIM; k++) {
                s ^= s << 13;
                s ^= s >>> 7;
                s ^= s << 17;
                dst[off + k] = (s >>> 40) * 0x1.0p-23f - 1f;
            }
        });
    }

    /** GFLOP/s of ND4J float32 matrix products of the shape the builder uses ([qb, D] x [D, gb]). */
    static double gemmRate(int qb, int gb, int reps) {
        INDArray a = Nd4j.rand(DataType.FLOAT, qb, DIM);
        INDArray b = Nd4j.rand(DataType.FLOAT, gb, DIM);
        INDArray c = Nd4j.create(DataType.FLOAT, qb, gb);
        Nd4j.gemm(a, b, c, false, true, 1.0, 0.0); // warm-up
        long t0 = System.nanoTime();
        for (int r = 0; r < reps; r++) Nd4j.gemm(a, b, c, false, true, 1.0, 0.0);
        double s = (System.nanoTime() - t0) / 1e9;
        return 2.0 * qb * gb * DIM * reps / s / 1e9;
    }

    /** Seconds to generate (read) the whole gallery once, without any arithmetic on it. */
    static double readTime(DescriptorSource g, int block) {
        float[] buf = new float[block * DIM];
        long t0 = System.nanoTime();
        for (int s = 0; s < g.size(); s += block) g.getRows(s, Math.min(block, g.size() - s), buf, 0);
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Runs the benchmark; see the class comment for the arguments. */
    public static void main(String[] args) {
        // MKL or OpenBLAS (-Dlocore.blas=...), before ND4J loads, as bin/locore does
        System.out.println("BLAS library: " + org.locore.model.rowops.BlasLibrary.select());
        int m = args.length > 0 ? Integer.parseInt(args[0]) : ShortlistBuilder.DEFAULT_M;
        String[] configs = args.length > 1 ? java.util.Arrays.copyOfRange(args, 1, args.length)
                : new String[]{"100000:70", "100000:1000", "1000000:70", "1000000:300"};
        ShortlistBuilder builder = new ShortlistBuilder(m);
        builder.search(synthetic(70, 3), synthetic(50_000, 4)); // warm-up (JIT), not timed
        System.out.printf(Locale.ROOT, "cores=%d, block %d gallery rows x up to %d queries per gemm%n",
                Runtime.getRuntime().availableProcessors(), builder.galleryBlockRows(), builder.queryBatchRows());
        System.out.println("| gallery N x D | queries | M | search s | queries/s | GFLOP/s achieved | ND4J GEMM GFLOP/s (same shape) | GEMM roofline s | gallery generation s |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (String c : configs) {
            String[] p = c.split(":");
            int n = Integer.parseInt(p[0]);
            int nq = Integer.parseInt(p[1]);
            DescriptorSource gallery = synthetic(n, 1);
            DescriptorSource queries = synthetic(nq, 2);
            double gen = readTime(gallery, builder.galleryBlockRows());
            long t0 = System.nanoTime();
            NearestNeighbours nn = builder.search(queries, gallery);
            double s = (System.nanoTime() - t0) / 1e9;
            double flops = 2.0 * nq * n * DIM;
            double rate = gemmRate(Math.min(nq, builder.queryBatchRows()), builder.galleryBlockRows(), 5);
            System.out.printf(Locale.ROOT, "| %d x %d | %d | %d | %.2f | %.1f | %.1f | %.1f | %.2f | %.2f |%n", n, DIM,
                    nq, nn.m(), s, nq / s, flops / s / 1e9, rate, flops / rate / 1e9, gen);
        }
    }
}
