package org.locore.data.features;

/**
 * The first {@code rows} local features of one image, split into their columns. Row {@code r} of the
 * file is {@code [y[r], x[r], scaleIds[r], mask[r], weights[r], descriptors[r*dim .. (r+1)*dim)]}.
 *
 * @param rows        number of rows
 * @param dim         descriptor dimension D
 * @param y           vertical centres (relative to the image height)
 * @param x           horizontal centres (relative to the image width)
 * @param scaleIds    scale index of each row (0 for DINOv2)
 * @param mask        true where the row is padding
 * @param weights     detector weights
 * @param descriptors {@code rows * dim} descriptor values, row-major
 */
public record ImageFeatures(int rows, int dim, float[] y, float[] x, int[] scaleIds, boolean[] mask, float[] weights,
                            float[] descriptors) {
    /** Checks that the arrays have the lengths {@code rows} and {@code dim} imply. */
    public ImageFeatures {
        if (y.length != rows || x.length != rows || scaleIds.length != rows || mask.length != rows
                || weights.length != rows || descriptors.length != (long) rows * dim) {
            throw new IllegalArgumentException("image features arrays do not match rows=" + rows + ", dim=" + dim);
        }
    }

    /**
     * Splits {@code rows} logical rows of {@code 5 + dim} values ({@code flat[off ..]}) into columns.
     */
    public static ImageFeatures fromRows(float[] flat, int off, int rows, int dim) {
        int width = 5 + dim;
        float[] y = new float[rows];
        float[] x = new float[rows];
        int[] s = new int[rows];
        boolean[] m = new boolean[rows];
        float[] w = new float[rows];
        float[] d = new float[rows * dim];
        for (int r = 0; r < rows; r++) {
            int p = off + r * width;
            y[r] = flat[p];
            x[r] = flat[p + 1];
            s[r] = Math.round(flat[p + 2]);
            m[r] = flat[p + 3] != 0f;
            w[r] = flat[p + 4];
            System.arraycopy(flat, p + 5, d, r * dim, dim);
        }
        return new ImageFeatures(rows, dim, y, x, s, m, w, d);
    }

    /** The logical rows {@code [rows, 5 + dim]} again, row-major (mask as 1 for padding, 0 otherwise). */
    public float[] toRows() {
        int width = 5 + dim;
        float[] out = new float[rows * width];
        for (int r = 0; r < rows; r++) {
            int p = r * width;
            out[p] = y[r];
            out[p + 1] = x[r];
            out[p + 2] = scaleIds[r];
            out[p + 3] = mask[r] ? 1f : 0f;
            out[p + 4] = weights[r];
            System.arraycopy(descriptors, r * dim, out, p + 5, dim);
        }
        return out;
    }

    /** Number of rows that are not padding. */
    public int validRows() {
        int n = 0;
        for (boolean b : mask) {
            if (!b) n++;
        }
        return n;
    }
}
