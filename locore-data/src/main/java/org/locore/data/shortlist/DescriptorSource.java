package org.locore.data.shortlist;

import java.util.Objects;

/**
 * Rows of float32 descriptors, read one row at a time: the view {@link ShortlistBuilder} needs of query and
 * gallery global descriptors. A memory-mapped global descriptor file ({@code int size()}, {@code int dim()},
 * {@code void get(int i, float[] dst, int off)}) fits it as is or through {@link #of(int, int, RowReader)}.
 */
public interface DescriptorSource {

    /** Number of rows. */
    int size();

    /** Length of a row. */
    int dim();

    /**
     * Copies row {@code i} into {@code dst[off .. off + dim())}.
     *
     * @throws IndexOutOfBoundsException when {@code i} is not in {@code [0, size())}
     */
    void get(int i, float[] dst, int off);

    /** Copies rows {@code [start, start + count)} into {@code dst} from {@code off}, row-major. */
    default void getRows(int start, int count, float[] dst, int off) {
        int d = dim();
        for (int r = 0; r < count; r++) {
            get(start + r, dst, off + r * d);
        }
    }

    /** Reads one row into an array; the functional half of a descriptor source. */
    @FunctionalInterface
    interface RowReader {
        /** Copies row {@code i} into {@code dst[off .. off + dim)}. */
        void get(int i, float[] dst, int off);
    }

    /**
     * A source from a size, a dimension and a row reader, e.g. {@code DescriptorSource.of(g.size(), g.dim(), g::get)}
     * for any reader with that shape of API.
     */
    static DescriptorSource of(int size, int dim, RowReader reader) {
        Objects.requireNonNull(reader, "reader");
        if (size < 0 || dim <= 0) {
            throw new IllegalArgumentException("bad descriptor source shape [" + size + ", " + dim + "]");
        }
        return new DescriptorSource() {
            @Override
            public int size() {
                return size;
            }

            @Override
            public int dim() {
                return dim;
            }

            @Override
            public void get(int i, float[] dst, int off) {
                Objects.checkIndex(i, size);
                reader.get(i, dst, off);
            }
        };
    }

    /**
     * A source over a row-major {@code [n, dim]} array (not copied).
     *
     * @throws IllegalArgumentException when {@code data.length != n * dim}
     */
    static DescriptorSource of(float[] data, int n, int dim) {
        if ((long) n * dim != data.length) {
            throw new IllegalArgumentException("array of length " + data.length + " is not [" + n + ", " + dim + "]");
        }
        return new DescriptorSource() {
            @Override
            public int size() {
                return n;
            }

            @Override
            public int dim() {
                return dim;
            }

            @Override
            public void get(int i, float[] dst, int off) {
                Objects.checkIndex(i, n);
                System.arraycopy(data, i * dim, dst, off, dim);
            }

            @Override
            public void getRows(int start, int count, float[] dst, int off) {
                Objects.checkFromIndexSize(start, count, n);
                System.arraycopy(data, start * dim, dst, off, count * dim);
            }
        };
    }
}
