package org.locore.data.features;

import io.jhdf.HdfFile;
import io.jhdf.api.dataset.ChunkedDataset;
import org.locore.model.io.FormatException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Images of a chunked (possibly compressed) dataset, read through jhdf one chunk at a time and assembled
 * into row-major boxes. jhdf is called under one lock per file; a few recently decompressed chunks are kept,
 * so reading neighbouring images of the same chunk decompresses it once. Chunks that were never written
 * read as zeros (HDF5's default fill value).
 *
 * <p>A thread interrupted while jhdf reads closes the shared file channel (Java's rule for interruptible
 * channels): that thread gets an {@link InterruptedIOException}, and the next read by another thread opens
 * the file again, so one cancelled task does not break the other readers.
 */
final class ChunkedRecords implements RecordStore {
    private static final Logger LOG = LoggerFactory.getLogger(ChunkedRecords.class);
    /** The most bytes one chunk may decompress to. */
    static final long MAX_CHUNK_BYTES = 1L << 30;
    private static final long CACHE_BYTES = 64L << 20;
    private static final int CACHE_CHUNKS = 16;

    private final Path file;
    private final String path;
    private final Object lock = new Object();
    private HdfFile hdf;
    private ChunkedDataset dataset;
    private boolean closed;
    private final long[] dims;
    private final int[] chunk;
    private final int elementBytes;
    private final int chunkBytes;
    private final Map<List<Long>, byte[]> cache = new LinkedHashMap<>(32, 0.75f, true);
    private long cachedBytes;

    /**
     * @param hdf          the open file, owned (and closed) by this object from now on
     * @param path         the dataset's path in the file (to open it again)
     * @param dims         the dataset's dimensions
     * @param elementBytes bytes per stored element
     */
    ChunkedRecords(Path file, HdfFile hdf, String path, ChunkedDataset dataset, long[] dims, int elementBytes)
            throws FormatException {
        this.file = file;
        this.hdf = hdf;
        this.path = path;
        this.dataset = dataset;
        this.dims = dims.clone();
        this.elementBytes = elementBytes;
        int[] c = dataset.getChunkDimensions();
        // jhdf may report the element size as an extra trailing chunk dimension (HDF5 layout v1-v3 stores it so)
        if (c.length == dims.length + 1) {
            c = Arrays.copyOf(c, dims.length);
        }
        if (c.length != dims.length) {
            throw new FormatException(file, "chunk shape " + Arrays.toString(c) + " does not match dataset rank "
                    + dims.length);
        }
        long bytes = elementBytes;
        for (int v : c) {
            if (v <= 0) {
                throw new FormatException(file, "invalid chunk shape " + Arrays.toString(c));
            }
            bytes *= v;
            if (bytes > MAX_CHUNK_BYTES) {
                throw new FormatException(file, "chunk shape " + Arrays.toString(c) + " is larger than "
                        + MAX_CHUNK_BYTES + " bytes");
            }
        }
        this.chunk = c;
        this.chunkBytes = (int) bytes;
    }

    /** The chunk shape. */
    int[] chunkShape() {
        return chunk.clone();
    }

    @Override
    public ByteBuffer read(long index, int rows) throws IOException {
        long[] start = new long[dims.length];
        int[] count = new int[dims.length];
        start[0] = index;
        count[0] = 1;
        if (dims.length == 3) {
            count[1] = rows;
            count[2] = (int) dims[2];
        }
        return ByteBuffer.wrap(box(start, count)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The row-major bytes of the box {@code [start, start + count)}. */
    byte[] box(long[] start, int[] count) throws IOException {
        int rank = dims.length;
        long total = elementBytes;
        for (int c : count) {
            total *= c;
        }
        byte[] out = new byte[Math.toIntExact(total)];
        if (total == 0) {
            return out;
        }
        long[] first = new long[rank];
        long[] last = new long[rank];
        for (int d = 0; d < rank; d++) {
            first[d] = start[d] / chunk[d];
            last[d] = (start[d] + count[d] - 1) / chunk[d];
        }
        long[] ci = first.clone();
        while (true) {
            long[] origin = new long[rank];
            for (int d = 0; d < rank; d++) {
                origin[d] = ci[d] * chunk[d];
            }
            byte[] data = chunk(origin);
            if (data != null) {
                copy(data, origin, start, count, out);
            }
            int d = rank - 1;
            while (d >= 0 && ci[d] == last[d]) {
                ci[d] = first[d];
                d--;
            }
            if (d < 0) {
                break;
            }
            ci[d]++;
        }
        return out;
    }

    /** Copies the part of one chunk that lies inside the box, in runs along the last dimension. */
    private void copy(byte[] data, long[] origin, long[] start, int[] count, byte[] out) {
        int rank = dims.length;
        long[] lo = new long[rank];
        long[] hi = new long[rank];
        for (int d = 0; d < rank; d++) {
            lo[d] = Math.max(start[d], origin[d]);
            hi[d] = Math.min(start[d] + count[d], origin[d] + chunk[d]);
        }
        long[] chunkStride = new long[rank];
        long[] boxStride = new long[rank];
        chunkStride[rank - 1] = 1;
        boxStride[rank - 1] = 1;
        for (int d = rank - 2; d >= 0; d--) {
            chunkStride[d] = chunkStride[d + 1] * chunk[d + 1];
            boxStride[d] = boxStride[d + 1] * count[d + 1];
        }
        int run = (int) ((hi[rank - 1] - lo[rank - 1]) * elementBytes);
        long[] idx = lo.clone();
        while (true) {
            long src = 0;
            long dst = 0;
            for (int d = 0; d < rank; d++) {
                src += (idx[d] - origin[d]) * chunkStride[d];
                dst += (idx[d] - start[d]) * boxStride[d];
            }
            System.arraycopy(data, (int) (src * elementBytes), out, (int) (dst * elementBytes), run);
            int d = rank - 2;
            while (d >= 0 && idx[d] == hi[d] - 1) {
                idx[d] = lo[d];
                d--;
            }
            if (d < 0) {
                break;
            }
            idx[d]++;
        }
    }

    /** The decompressed chunk at {@code origin}, or null when it was never written. */
    private byte[] chunk(long[] origin) throws IOException {
        List<Long> key = Arrays.stream(origin).boxed().toList();
        synchronized (lock) {
            byte[] cached = cache.get(key);
            if (cached != null) {
                return cached;
            }
            int[] offset = new int[origin.length];
            for (int d = 0; d < origin.length; d++) {
                offset[d] = Math.toIntExact(origin[d]);
            }
            byte[] data;
            try {
                data = decompress(offset);
            } catch (RuntimeException e) {
                String m = String.valueOf(e.getMessage());
                if (m.startsWith("No chunk with offset")) {
                    LOG.debug("{}: chunk {} was never written, reading fill value 0", file, key);
                    return null;
                }
                throw new FormatException(file, "cannot read chunk at " + key + ": " + LocalFeatures.describe(e), e);
            }
            if (data == null || data.length != chunkBytes) {
                throw new FormatException(file, "chunk at " + key + " decompresses to "
                        + (data == null ? 0 : data.length) + " bytes, expected " + chunkBytes);
            }
            cache.put(key, data);
            cachedBytes += data.length;
            var it = cache.entrySet().iterator();
            while ((cachedBytes > CACHE_BYTES || cache.size() > CACHE_CHUNKS) && cache.size() > 1) {
                cachedBytes -= it.next().getValue().length;
                it.remove();
            }
            return data;
        }
    }

    /** Reads one chunk through jhdf (holding the lock), opening the file again after an interrupt closed it. */
    private byte[] decompress(int[] offset) throws IOException {
        if (closed) {
            throw new IllegalStateException(file + ": reader is closed");
        }
        try {
            return dataset.getDecompressedChunk(offset);
        } catch (RuntimeException e) {
            if (!closedChannel(e)) {
                throw e;
            }
            if (Thread.currentThread().isInterrupted()) {
                InterruptedIOException ie = new InterruptedIOException(file + ": interrupted while reading");
                ie.initCause(e);
                throw ie;
            }
        }
        LOG.debug("{}: file channel was closed by an interrupted reader, opening it again", file);
        try {
            hdf.close();
        } catch (RuntimeException e) {
            LOG.debug("{}: closing the old handle failed", file, e);
        }
        try {
            hdf = new HdfFile(file);
            dataset = (ChunkedDataset) hdf.getDatasetByPath(path);
        } catch (RuntimeException e) {
            throw new FormatException(file, "cannot open the file again: " + LocalFeatures.describe(e), e);
        }
        return dataset.getDecompressedChunk(offset);
    }

    private static boolean closedChannel(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ClosedChannelException) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    @Override
    public void close() {
        synchronized (lock) {
            if (!closed) {
                closed = true;
                cache.clear();
                hdf.close();
            }
        }
    }
}
