package org.locore.model.locore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Pools the output of several {@code LocoreBenchmark eager} invocations (their {@code eager:}, {@code bracketed:}
 * and {@code inside:} lines, in any log) into one summary of the forward's efficiency: per run against the rate of
 * its own FFN input GEMMs (the reference product timed inside the run), pooled over all runs (total work over total
 * time, on both sides), and grouped by how fast the host was. The host's speed is judged by the reference product
 * sampled just before and after each run (its sustained rate), which the run's own timings do not enter; grouping
 * by the in-forward rate instead, which is the ratio's own denominator, is shown beside it: its noise alone makes
 * the "fast" group's ratios look low and the "slow" group's high.
 *
 * <p>Run: {@code java -cp $CP org.locore.model.locore.LocoreBenchmarkSummary LOG...}.
 */
public final class LocoreBenchmarkSummary {
    /** The target of the forward's efficiency (issue: at least 75% of the GEMM rate). */
    static final double TARGET = 0.75;

    private static final Pattern EAGER = Pattern.compile(
            "^eager: (\\d+) tokens x (\\d+) x (\\d+) layers.*?; ([\\d.]+) GFLOP -> ", Pattern.MULTILINE);
    private static final Pattern BRACKET_RUN = Pattern.compile(
            "([\\d.]+) s at (\\d+)% of (\\d+)/(\\d+) best, (\\d+)% of (\\d+)/(\\d+) mean");
    private static final Pattern INSIDE_RUN = Pattern.compile("([\\d.]+) s at (\\d+)% of (\\d+)(?=;|\\s+GFLOP)");

    private LocoreBenchmarkSummary() {
    }

    /**
     * One timed run: its seconds and forward GFLOP, the GFLOP and measured rate of its FFN input GEMMs, the reference
     * product's sustained (mean) and best rates sampled before and after it.
     */
    record Run(double seconds, double gflop, double ffnGflop, double insideRate, double sustainedBefore,
               double sustainedAfter, double bestBefore, double bestAfter) {
        double rate() {
            return gflop / seconds;
        }

        double insideRatio() {
            return rate() / insideRate;
        }

        double sustained() {
            return (sustainedBefore + sustainedAfter) / 2;
        }

        double sustainedRatio() {
            return rate() / sustained();
        }

        double bestRatio() {
            return rate() / ((bestBefore + bestAfter) / 2);
        }
    }

    /**
     * The runs in a log of one or more invocations; each invocation's {@code bracketed:} and {@code inside:} runs are
     * paired in order (both list the same runs).
     *
     * @throws IllegalArgumentException when an invocation's two lists differ in length or the times disagree
     */
    static List<Run> parse(String log) {
        List<Run> runs = new ArrayList<>();
        List<MatchResult> heads = EAGER.matcher(log).results().toList();
        for (int i = 0; i < heads.size(); i++) {
            MatchResult head = heads.get(i);
            String block = log.substring(head.start(), i + 1 < heads.size() ? heads.get(i + 1).start() : log.length());
            double gflop = Double.parseDouble(head.group(4));
            double ffnGflop = Integer.parseInt(head.group(3)) * 2.0 * Long.parseLong(head.group(1))
                    * Long.parseLong(head.group(2)) * LocoreBenchmark.FFN / 1e9;
            String bracketed = line(block, "bracketed:");
            String inside = line(block, "inside:");
            if (bracketed == null || inside == null) {
                continue;
            }
            List<double[]> b = numbers(BRACKET_RUN.matcher(bracketed), 7);
            List<double[]> in = numbers(INSIDE_RUN.matcher(inside), 3);
            if (b.size() != in.size()) {
                throw new IllegalArgumentException("invocation " + (i + 1) + ": " + b.size() + " bracketed runs but "
                        + in.size() + " inside runs");
            }
            for (int r = 0; r < b.size(); r++) {
                double[] x = b.get(r);
                double[] y = in.get(r);
                if (x[0] != y[0]) {
                    throw new IllegalArgumentException("invocation " + (i + 1) + ", run " + (r + 1) + ": "
                            + x[0] + " s bracketed but " + y[0] + " s inside");
                }
                runs.add(new Run(x[0], gflop, ffnGflop, y[2], x[5], x[6], x[2], x[3]));
            }
        }
        return runs;
    }

    private static String line(String block, String prefix) {
        for (String l : block.split("\n")) {
            if (l.startsWith(prefix)) {
                return l;
            }
        }
        return null;
    }

    private static List<double[]> numbers(Matcher m, int groups) {
        List<double[]> out = new ArrayList<>();
        while (m.find()) {
            double[] v = new double[groups];
            for (int g = 0; g < groups; g++) {
                v[g] = Double.parseDouble(m.group(g + 1));
            }
            out.add(v);
        }
        return out;
    }

    /** The forward's rate over all runs against its FFN input GEMMs' over all runs (total work over total time). */
    static double pooledInsideRatio(List<Run> runs) {
        double gflop = 0;
        double seconds = 0;
        double ffnGflop = 0;
        double ffnSeconds = 0;
        for (Run r : runs) {
            gflop += r.gflop();
            seconds += r.seconds();
            ffnGflop += r.ffnGflop();
            ffnSeconds += r.ffnGflop() / r.insideRate();
        }
        return gflop / seconds / (ffnGflop / ffnSeconds);
    }

    /** The runs in {@code groups} groups of (nearly) equal size, in increasing order of {@code key}. */
    static List<List<Run>> groups(List<Run> runs, ToDoubleFunction<Run> key, int groups) {
        List<Run> sorted = new ArrayList<>(runs);
        sorted.sort(Comparator.comparingDouble(key));
        List<List<Run>> out = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
            out.add(sorted.subList(g * sorted.size() / groups, (g + 1) * sorted.size() / groups));
        }
        return out;
    }

    static double mean(List<Run> runs, ToDoubleFunction<Run> f) {
        return runs.stream().mapToDouble(f).average().orElse(Double.NaN);
    }

    static String summary(List<Run> runs) {
        if (runs.isEmpty()) {
            return "no runs found (expected the eager:, bracketed: and inside: lines of LocoreBenchmark eager)";
        }
        StringBuilder s = new StringBuilder();
        double[] inside = runs.stream().mapToDouble(Run::insideRatio).sorted().toArray();
        long atTarget = Arrays.stream(inside).filter(x -> x >= TARGET).count();
        s.append(String.format(Locale.ROOT, "%d runs: %.2f-%.2f s (mean %.2f s)%n", runs.size(),
                runs.stream().mapToDouble(Run::seconds).min().orElseThrow(),
                runs.stream().mapToDouble(Run::seconds).max().orElseThrow(), mean(runs, Run::seconds)));
        s.append(String.format(Locale.ROOT, "against their own FFN input GEMMs: pooled %.1f%%; per run mean %.1f%%,"
                        + " median %.1f%%, %.0f-%.0f%%, %d of %d at or above %.0f%%%n", 100 * pooledInsideRatio(runs),
                100 * mean(runs, Run::insideRatio), 100 * median(inside), 100 * inside[0],
                100 * inside[inside.length - 1], atTarget, runs.size(), 100 * TARGET));
        long sustainedAtTarget = runs.stream().filter(r -> r.sustainedRatio() >= TARGET).count();
        s.append(String.format(Locale.ROOT, "against the sustained rate around each run: mean %.1f%%, %d of %d at or"
                        + " above %.0f%%; against the best product around each run: mean %.1f%%%n",
                100 * mean(runs, Run::sustainedRatio), sustainedAtTarget, runs.size(), 100 * TARGET,
                100 * mean(runs, Run::bestRatio)));
        groupLines(s, "by the host's speed (sustained rate around the run, not part of the ratio)", runs,
                Run::sustained);
        groupLines(s, "by the in-forward GEMM rate itself (the ratio's denominator: its noise biases these)", runs,
                Run::insideRate);
        return s.toString();
    }

    private static void groupLines(StringBuilder s, String title, List<Run> runs, ToDoubleFunction<Run> key) {
        s.append(title).append(":\n");
        for (List<Run> g : groups(runs, key, 3)) {
            if (g.isEmpty()) {
                continue;
            }
            s.append(String.format(Locale.ROOT, "  %3.0f-%3.0f GFLOP/s, %2d runs: in-forward ratio mean %.1f%% (min %.0f%%)%n",
                    key.applyAsDouble(g.get(0)), key.applyAsDouble(g.get(g.size() - 1)), g.size(),
                    100 * mean(g, Run::insideRatio), 100 * g.stream().mapToDouble(Run::insideRatio).min().orElseThrow()));
        }
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** @param args benchmark logs */
    public static void main(String[] args) throws IOException {
        if (args.length == 0) {
            System.err.println("usage: LocoreBenchmarkSummary LOG... (outputs of LocoreBenchmark eager)");
            System.exit(2);
        }
        List<Run> runs = new ArrayList<>();
        for (String a : args) {
            Path p = Path.of(a);
            try {
                runs.addAll(parse(Files.readString(p)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(p + ": " + e.getMessage(), e);
            }
        }
        System.out.print(summary(runs));
    }
}
