package org.locore.model.vit;

/**
 * Resizes a square grid of position embeddings to a patch grid exactly as PyTorch's
 * {@code F.interpolate(mode='bicubic', antialias=True, align_corners=False, size=(gh, gw))} does (the DINOv2
 * {@code interpolate_pos_encoding} with offset 0): separable cubic-convolution weights with A = -0.5, a kernel
 * support of 2 input pixels (stretched by the scale factor when shrinking, i.e. antialiased), windows truncated
 * at the borders and renormalised. Weights and sums are computed in double precision.
 */
public final class PositionTable {
    /**
     * The cubic-convolution parameter of PyTorch's antialiased bicubic kernel: -0.5 (PIL's value), not the -0.75
     * of its non-antialiased bicubic mode; verified against {@code F.interpolate} weights to 1e-15.
     */
    public static final double A = -0.5;

    private PositionTable() {
    }

    /**
     * Resizes a {@code [inH, inW, dim]} grid (row-major, channels last) to {@code [outH, outW, dim]}.
     *
     * @param grid  the input values, {@code inH * inW * dim} long
     * @param inH   input rows
     * @param inW   input columns
     * @param dim   channels per grid point
     * @param outH  output rows (at least 1)
     * @param outW  output columns (at least 1)
     * @return the resized grid, {@code outH * outW * dim} long, channels last
     */
    public static double[] resize(double[] grid, int inH, int inW, int dim, int outH, int outW) {
        if (inH < 1 || inW < 1 || outH < 1 || outW < 1 || dim < 1) {
            throw new IllegalArgumentException("bad sizes " + inH + "x" + inW + " -> " + outH + "x" + outW + ", dim " + dim);
        }
        if (grid.length != (long) inH * inW * dim) {
            throw new IllegalArgumentException("grid has " + grid.length + " values, expected " + inH + "*" + inW + "*" + dim);
        }
        // Horizontal pass: [inH, inW, dim] -> [inH, outW, dim]
        Weights wx = weights(inW, outW);
        double[] tmp = new double[inH * outW * dim];
        for (int y = 0; y < inH; y++) {
            for (int o = 0; o < outW; o++) {
                int dst = (y * outW + o) * dim;
                for (int j = 0; j < wx.size[o]; j++) {
                    double w = wx.w[o][j];
                    int src = (y * inW + wx.min[o] + j) * dim;
                    for (int c = 0; c < dim; c++) {
                        tmp[dst + c] += w * grid[src + c];
                    }
                }
            }
        }
        // Vertical pass: [inH, outW, dim] -> [outH, outW, dim]
        Weights wy = weights(inH, outH);
        double[] out = new double[outH * outW * dim];
        for (int o = 0; o < outH; o++) {
            for (int j = 0; j < wy.size[o]; j++) {
                double w = wy.w[o][j];
                int srcRow = (wy.min[o] + j) * outW * dim;
                int dstRow = o * outW * dim;
                for (int k = 0; k < outW * dim; k++) {
                    out[dstRow + k] += w * tmp[srcRow + k];
                }
            }
        }
        return out;
    }

    /** The interpolation weights along one axis: for each output index, the first input index and the weights. */
    static Weights weights(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double support = scale >= 1.0 ? 2.0 * scale : 2.0;
        double invScale = scale >= 1.0 ? 1.0 / scale : 1.0;
        Weights r = new Weights(outSize);
        for (int i = 0; i < outSize; i++) {
            double center = scale * (i + 0.5);
            int xmin = Math.max((int) (center - support + 0.5), 0);
            int xsize = Math.min((int) (center + support + 0.5), inSize) - xmin;
            double[] w = new double[Math.max(xsize, 0)];
            double total = 0;
            for (int j = 0; j < w.length; j++) {
                w[j] = filter((j + xmin - center + 0.5) * invScale);
                total += w[j];
            }
            if (total != 0.0) {
                for (int j = 0; j < w.length; j++) {
                    w[j] /= total;
                }
            }
            r.min[i] = xmin;
            r.size[i] = w.length;
            r.w[i] = w;
        }
        return r;
    }

    /** The cubic convolution kernel with {@link #A}. */
    static double filter(double x) {
        x = Math.abs(x);
        if (x < 1.0) {
            return ((A + 2) * x - (A + 3)) * x * x + 1;
        }
        if (x < 2.0) {
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
        }
        return 0.0;
    }

    /** Per-output-index windows of one axis. */
    static final class Weights {
        final int[] min;
        final int[] size;
        final double[][] w;

        Weights(int n) {
            min = new int[n];
            size = new int[n];
            w = new double[n][];
        }
    }
}
