package org.locore.apps.gridsearch;

import org.locore.model.io.AtomicFiles;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A PNG heatmap of a {@link GridResult}: one cell per (alpha, temperature) pair, colour from dark blue (lowest)
 * to yellow (highest), the value (times 100) written in each cell, the best pair outlined, axis labels on the
 * left (alpha) and top (temperature). Drawn headless with {@link BufferedImage} and written with {@link ImageIO}.
 */
public final class Heatmap {
    /** Cell side in pixels. */
    public static final int CELL = 44;
    /** Left margin (alpha labels). */
    public static final int LEFT = 56;
    /** Top margin (title and temperature labels). */
    public static final int TOP = 48;
    /** Right and bottom margin. */
    public static final int MARGIN = 12;

    private Heatmap() {
    }

    /** Image width for {@code columns} temperatures. */
    public static int width(int columns) {
        return LEFT + columns * CELL + MARGIN;
    }

    /** Image height for {@code rows} alphas. */
    public static int height(int rows) {
        return TOP + rows * CELL + MARGIN;
    }

    /** Draws the heatmap. */
    public static BufferedImage render(GridResult g) {
        int rows = g.alphas().length;
        int cols = g.temps().length;
        BufferedImage img = new BufferedImage(width(cols), height(rows), BufferedImage.TYPE_INT_RGB);
        Graphics2D gr = img.createGraphics();
        try {
            gr.setColor(Color.WHITE);
            gr.fillRect(0, 0, img.getWidth(), img.getHeight());
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (double[] row : g.values()) {
                for (double v : row) {
                    if (!Double.isNaN(v)) {
                        lo = Math.min(lo, v);
                        hi = Math.max(hi, v);
                    }
                }
            }
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    double v = g.values()[i][j];
                    gr.setColor(Double.isNaN(v) ? Color.LIGHT_GRAY : colour(hi > lo ? (v - lo) / (hi - lo) : 1));
                    gr.fillRect(LEFT + j * CELL, TOP + i * CELL, CELL, CELL);
                }
            }
            int[] best = g.best();
            gr.setColor(Color.RED);
            gr.drawRect(LEFT + best[1] * CELL, TOP + best[0] * CELL, CELL - 1, CELL - 1);
            gr.drawRect(LEFT + best[1] * CELL + 1, TOP + best[0] * CELL + 1, CELL - 3, CELL - 3);
            labels(gr, g, lo, hi);
        } finally {
            gr.dispose();
        }
        return img;
    }

    private static void labels(Graphics2D gr, GridResult g, double lo, double hi) {
        try {
            gr.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            gr.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            gr.setColor(Color.BLACK);
            gr.drawString(g.metric() + " (x100), rows alpha, columns temperature", LEFT, 16);
            for (int j = 0; j < g.temps().length; j++) {
                gr.drawString(String.format(Locale.ROOT, "%.2f", g.temps()[j]), LEFT + j * CELL + 8, TOP - 8);
            }
            for (int i = 0; i < g.alphas().length; i++) {
                gr.drawString(String.format(Locale.ROOT, "%.2f", g.alphas()[i]), 12, TOP + i * CELL + CELL / 2 + 4);
            }
            for (int i = 0; i < g.alphas().length; i++) {
                for (int j = 0; j < g.temps().length; j++) {
                    double v = g.values()[i][j];
                    if (Double.isNaN(v)) continue;
                    double t = hi > lo ? (v - lo) / (hi - lo) : 1;
                    gr.setColor(t > 0.6 ? Color.BLACK : Color.WHITE);
                    gr.drawString(String.format(Locale.ROOT, "%.1f", 100 * v), LEFT + j * CELL + 8,
                            TOP + i * CELL + CELL / 2 + 4);
                }
            }
        } catch (RuntimeException | Error e) {
            // no fonts in this (headless) runtime: keep the colour cells only
            org.slf4j.LoggerFactory.getLogger(Heatmap.class).warn("heatmap labels skipped: {}", e.toString());
        }
    }

    /** Dark blue (0) through teal and green to yellow (1). */
    static Color colour(double t) {
        double[][] stops = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
        double x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
        int k = Math.min(stops.length - 2, (int) Math.floor(x));
        double f = x - k;
        int[] c = new int[3];
        for (int i = 0; i < 3; i++) c[i] = (int) Math.round(stops[k][i] + f * (stops[k + 1][i] - stops[k][i]));
        return new Color(c[0], c[1], c[2]);
    }

    /** Renders and writes a PNG atomically. */
    public static void write(Path file, GridResult g) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage img = render(g);
        AtomicFiles.write(file, o -> {
            if (!ImageIO.write(img, "png", o)) throw new IOException(file + ": no PNG writer");
        });
    }
}
