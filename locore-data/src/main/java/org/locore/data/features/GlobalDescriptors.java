package org.locore.data.features;

import org.locore.model.io.AtomicFiles;
import org.locore.model.io.FormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A global descriptor file: headerless little-endian float32 {@code [N, D]} (LOCORE's {@code *_global.pt};
 * the suffix is historical, it is not a torch archive). The file is memory-mapped in several mappings, so
 * files larger than 2 GB work and nothing is read before it is asked for. Reading is thread-safe.
 */
public final class GlobalDescriptors implements AutoCloseable {
    private final Path file;
    private final int size;
    private final int dim;
    private final FileChannel channel;
    private final MappedRecords records;

    /** Opens with at most {@code mappingBytes} bytes per mapping (small values test the >2 GB logic). */
    GlobalDescriptors(Path file, int dim, long mappingBytes) throws IOException {
        this.file = file;
        if (dim <= 0) {
            throw new IllegalArgumentException(file + ": descriptor dimension must be positive, got " + dim);
        }
        this.dim = dim;
        FileChannel ch = openChannel(file);
        try {
            long bytes = ch.size();
            long row = 4L * dim;
            if (bytes == 0) {
                throw new FormatException(file, "empty file: expected float32 rows of " + dim + " values");
            }
            if (bytes % row != 0) {
                throw new FormatException(file, "size " + bytes + " bytes is not a multiple of one float32 row of "
                        + dim + " values (" + row + " bytes)");
            }
            long n = bytes / row;
            if (n > Integer.MAX_VALUE) {
                throw new FormatException(file, n + " rows: more than " + Integer.MAX_VALUE + " are not supported");
            }
            this.size = (int) n;
            this.records = new MappedRecords(ch, 0, n, Math.toIntExact(row), mappingBytes);
            this.channel = ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Opens a file of float32 rows of {@code dim} values; the number of rows follows from the file size. */
    public static GlobalDescriptors open(Path file, int dim) throws IOException {
        return new GlobalDescriptors(file, dim, MappedRecords.DEFAULT_MAPPING_BYTES);
    }

    /** Opens a file known to hold {@code n} rows; the dimension follows from the file size. */
    public static GlobalDescriptors openWithCount(Path file, int n) throws IOException {
        if (n <= 0) {
            throw new IllegalArgumentException(file + ": number of rows must be positive, got " + n);
        }
        long bytes;
        try {
            bytes = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file", e);
        }
        if (bytes == 0) {
            throw new FormatException(file, "empty file: expected " + n + " float32 rows");
        }
        if (bytes % (4L * n) != 0) {
            throw new FormatException(file, "size " + bytes + " bytes is not a multiple of " + n + " float32 rows ("
                    + (4L * n) + " bytes per column)");
        }
        long dim = bytes / (4L * n);
        if (dim > Integer.MAX_VALUE / 4) {
            throw new FormatException(file, "rows of " + dim + " values are too long");
        }
        return open(file, (int) dim);
    }

    private static FileChannel openChannel(Path file) throws IOException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file", e);
        }
    }

    /** Number of rows (images). */
    public int size() {
        return size;
    }

    /** Values per row. */
    public int dim() {
        return dim;
    }

    /** The file read. */
    public Path file() {
        return file;
    }

    /** Row {@code i} as a new array. */
    public float[] get(int i) {
        float[] out = new float[dim];
        get(i, out, 0);
        return out;
    }

    /** Copies row {@code i} into {@code dst[off, off + dim)}. */
    public void get(int i, float[] dst, int off) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException(file + ": row " + i + " out of range [0, " + size + ")");
        }
        if (off < 0 || off > dst.length - dim) {
            throw new IndexOutOfBoundsException("destination [" + off + ", " + (off + dim) + ") outside an array of "
                    + dst.length);
        }
        records.record(i).asFloatBuffer().get(dst, off, dim);
    }

    /** Number of mappings in use (for tests of the >2 GB logic). */
    int mappingCount() {
        return records.mappingCount();
    }

    /**
     * Writes {@code rowMajor} as headerless little-endian float32 rows of {@code dim} values, atomically
     * (temporary file, then rename).
     */
    public static void write(Path file, float[] rowMajor, int dim) throws IOException {
        if (dim <= 0 || rowMajor.length % dim != 0) {
            throw new IllegalArgumentException(file + ": " + rowMajor.length + " values are not rows of " + dim);
        }
        AtomicFiles.write(file, out -> {
            ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : rowMajor) {
                if (!b.hasRemaining()) {
                    out.write(b.array(), 0, b.position());
                    b.clear();
                }
                b.putFloat(v);
            }
            out.write(b.array(), 0, b.position());
        });
    }

    /** Releases the file; mappings are released by the garbage collector. */
    @Override
    public void close() throws IOException {
        channel.close();
    }
}
