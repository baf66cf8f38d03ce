package org.locore.apps.gridsearch;

import org.locore.model.io.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The metric of every (alpha, temperature) pair of a grid search: {@code values[i][j]} for {@code alphas[i]},
 * {@code temps[j]}; NaN where undefined.
 *
 * @param metric the metric's name (e.g. {@code gldv2-public-map}, {@code medium-map})
 * @param alphas the alpha values (rows)
 * @param temps  the temperature values (columns)
 * @param values the metric per pair
 */
public record GridResult(String metric, double[] alphas, double[] temps, double[][] values) {

    /** {@code n} evenly spaced values from 0 to 1 inclusive ({@code i / (n - 1)}). */
    public static double[] unitGrid(int n) {
        if (n < 2) throw new IllegalArgumentException("a grid needs at least 2 values, got " + n);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (double) i / (n - 1);
        return v;
    }

    /** The pair with the largest value (the first in row-major order among equals); {@code {i, j}}. */
    public int[] best() {
        int bi = -1;
        int bj = -1;
        for (int i = 0; i < alphas.length; i++) {
            for (int j = 0; j < temps.length; j++) {
                double v = values[i][j];
                if (Double.isNaN(v)) continue;
                if (bi < 0 || v > values[bi][bj]) {
                    bi = i;
                    bj = j;
                }
            }
        }
        if (bi < 0) throw new IllegalStateException("every value of the grid is NaN");
        return new int[]{bi, bj};
    }

    /** The table as CSV: {@code alpha,temp,METRIC}, one line per pair. */
    public String csv() {
        StringBuilder b = new StringBuilder("alpha,temp,").append(metric).append('\n');
        for (int i = 0; i < alphas.length; i++) {
            for (int j = 0; j < temps.length; j++) {
                b.append(String.format(Locale.ROOT, "%s,%s,%s%n", alphas[i], temps[j], values[i][j]));
            }
        }
        return b.toString();
    }

    /** The table as markdown: one row per alpha, one column per temperature, values times 100. */
    public String markdown() {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%s (x100); rows alpha, columns temp%n%n", metric));
        b.append("| alpha \\ temp |");
        for (double t : temps) b.append(String.format(Locale.ROOT, " %.2f |", t));
        b.append("\n|---|");
        b.append("---:|".repeat(temps.length)).append('\n');
        int[] best = best();
        for (int i = 0; i < alphas.length; i++) {
            b.append(String.format(Locale.ROOT, "| %.2f |", alphas[i]));
            for (int j = 0; j < temps.length; j++) {
                String v = Double.isNaN(values[i][j]) ? "nan" : String.format(Locale.ROOT, "%.2f", 100 * values[i][j]);
                b.append(' ').append(i == best[0] && j == best[1] ? "**" + v + "**" : v).append(" |");
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** Writes {@code text} to {@code file} atomically (UTF-8). */
    static void writeText(Path file, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(file, o -> o.write(bytes));
    }
}
