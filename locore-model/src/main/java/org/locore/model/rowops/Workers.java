package org.locore.model.rowops;

import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The eager executors' Java-thread parallelism: row ranges split evenly over a number of workers, and jobs taken
 * dynamically by the workers (so that a worker slowed by other processes takes fewer), optionally with the BLAS
 * library set to one thread for the duration. The caller is always worker 0; the others run on shared daemon threads.
 * Worker indices ({@code k}) let tasks use per-worker scratch arrays.
 */
public final class Workers {
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "locore-row-worker");
        t.setDaemon(true);
        return t;
    });

    private Workers() {
    }

    /** A task over rows {@code [r0, r1)} on worker {@code k}. */
    @FunctionalInterface
    public interface RowTask {
        /**
         * @param k  worker index
         * @param r0 first row
         * @param r1 end row (exclusive)
         */
        void run(int k, int r0, int r1);
    }

    /** Job {@code j} on worker {@code k}. */
    @FunctionalInterface
    public interface JobTask {
        /**
         * @param k worker index
         * @param j job index
         */
        void run(int k, int j);
    }

    /** The number of workers the executors use: ND4J's thread count (at least 1). */
    public static int count() {
        return Math.max(1, Nd4j.getEnvironment().maxThreads());
    }

    /** Splits {@code rows} rows into one contiguous range per worker (at most {@code threads}); the caller runs the first. */
    public static void rows(int threads, int rows, RowTask task) {
        BlasLibrary.sleepAfterGemms();
        int t = Math.min(threads, rows);
        if (t <= 1) {
            task.run(0, 0, rows);
            return;
        }
        List<Future<?>> futures = new ArrayList<>();
        int per = (rows + t - 1) / t;
        for (int k = 1; k < t; k++) {
            int kk = k;
            int r0 = Math.min(rows, k * per);
            int r1 = Math.min(rows, r0 + per);
            futures.add(POOL.submit(() -> task.run(kk, r0, r1)));
        }
        task.run(0, 0, Math.min(rows, per));
        join(futures);
    }

    /**
     * Splits {@code rows} rows into blocks of {@code block} rows (the last may be shorter) taken dynamically by up to
     * {@code threads} workers, so that a worker slowed by other processes takes fewer (an even split waits for the
     * slower half); with one worker (or one block), one call over all rows. Only for tasks whose rows are
     * independent of each other: which worker runs which rows varies from run to run, so a task that sums over its
     * rows into per-worker accumulators would not repeat bit for bit (use {@link #rows} for those).
     */
    public static void rowBlocks(int threads, int rows, int block, RowTask task) {
        if (block < 1) {
            throw new IllegalArgumentException("block must be at least 1 row: " + block);
        }
        int blocks = (rows + block - 1) / block;
        BlasLibrary.sleepAfterGemms();
        if (threads <= 1 || blocks <= 1) {
            task.run(0, 0, rows);
            return;
        }
        dynamic(threads, blocks, (k, j) -> task.run(k, j * block, Math.min(rows, (j + 1) * block)));
    }

    /**
     * Runs jobs {@code [0, jobs)} on {@code threads} workers, each taking the next job when done with its last;
     * with more than one worker, the BLAS library runs single-threaded meanwhile ({@link BlasLibrary#setThreads},
     * restored afterwards), so that the jobs' GEMMs do not oversubscribe the cores.
     */
    public static void jobs(int threads, int jobs, JobTask task) {
        BlasLibrary.sleepAfterGemms();
        if (threads <= 1 || jobs <= 1) {
            for (int j = 0; j < jobs; j++) {
                task.run(0, j);
            }
            return;
        }
        int blasThreads = Nd4j.factory().blas().getMaxThreads();
        BlasLibrary.setThreads(1);
        try {
            dynamic(threads, jobs, task);
        } finally {
            BlasLibrary.setThreads(blasThreads);
        }
    }

    /** Jobs {@code [0, jobs)} taken one at a time by {@code min(threads, jobs)} workers, the caller being worker 0. */
    private static void dynamic(int threads, int jobs, JobTask task) {
        int t = Math.min(threads, jobs);
        AtomicInteger next = new AtomicInteger();
        List<Future<?>> futures = new ArrayList<>();
        for (int k = 1; k < t; k++) {
            int kk = k;
            futures.add(POOL.submit(() -> {
                for (int j = next.getAndIncrement(); j < jobs; j = next.getAndIncrement()) {
                    task.run(kk, j);
                }
            }));
        }
        for (int j = next.getAndIncrement(); j < jobs; j = next.getAndIncrement()) {
            task.run(0, j);
        }
        join(futures);
    }

    private static void join(List<Future<?>> futures) {
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException re) {
                    throw re;
                }
                if (cause instanceof Error er) {
                    throw er;
                }
                throw new IllegalStateException(cause);
            }
        }
    }

    /**
     * Splits the wall time of a parallel section over its stages in proportion to the workers' summed time in each
     * and adds the shares to {@code into} (stage profile of the executors).
     *
     * @param wallSeconds the section's wall time
     * @param nanos       per worker, nanoseconds spent in each stage
     * @param stages      stage names, in the order of {@code nanos}' columns
     */
    public static void splitWallTime(double wallSeconds, long[][] nanos, String[] stages, Map<String, Double> into) {
        double[] sum = new double[stages.length];
        double all = 0;
        for (long[] perThread : nanos) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += perThread[i];
                all += perThread[i];
            }
        }
        for (int i = 0; i < sum.length; i++) {
            into.merge(stages[i], all == 0 ? 0 : wallSeconds * sum[i] / all, Double::sum);
        }
    }
}
