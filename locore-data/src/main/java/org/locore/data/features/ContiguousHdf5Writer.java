package org.locore.data.features;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Streams one float32 dataset {@code [N, K, C]} with contiguous storage into a new HDF5 file, in bounded
 * memory: the values are written from byte 2048 on as they come, and the metadata (whose dimensions depend
 * on the final N) is written into the first 2048 bytes when the file is finished. The metadata is laid out
 * as the HDF5 library lays out a file made with the earliest file-format versions (superblock 0, a root group
 * with a symbol table, a version-1 object header), so h5py, the HDF5 library and jhdf read it.
 */
final class ContiguousHdf5Writer implements Closeable {
    /** Where the values start; the metadata fits before. */
    static final long DATA_ADDRESS = 2048;
    private static final long UNDEFINED = -1L;
    private static final int ROOT_HEADER = 0x60;
    private static final int BTREE = 0x88;
    private static final int HEAP = 0x2a8;
    private static final int HEAP_DATA = 0x2c8;
    private static final int HEAP_DATA_SIZE = 88;
    private static final int DATASET_HEADER = 0x320;
    private static final int DATASET_HEADER_SIZE = 256;
    private static final int SYMBOL_NODE = 0x430;
    private static final int GROUP_LEAF_K = 4;
    private static final int GROUP_INTERNAL_K = 16;

    private final FileChannel channel;
    private final String name;
    private final int rows;
    private final int width;
    private final ByteBuffer buffer = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private long images;
    private long position = DATA_ADDRESS;

    /**
     * Creates (or truncates) {@code file} for a dataset called {@code name} of images of {@code rows} rows of
     * {@code width} values.
     */
    ContiguousHdf5Writer(Path file, String name, int rows, int width) throws IOException {
        if (name.isEmpty() || name.contains("/") || name.getBytes(StandardCharsets.UTF_8).length > 7 * 8) {
            throw new IllegalArgumentException("dataset name '" + name + "' must be a short name without '/'");
        }
        this.name = name;
        this.rows = rows;
        this.width = width;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
    }

    /** Appends one image: {@code rows * width} values of {@code values} from {@code off}. */
    void append(float[] values, int off) throws IOException {
        int n = rows * width;
        for (int i = 0; i < n; i++) {
            if (!buffer.hasRemaining()) {
                flush();
            }
            buffer.putFloat(values[off + i]);
        }
        images++;
    }

    /** Number of images appended. */
    long images() {
        return images;
    }

    private void flush() throws IOException {
        buffer.flip();
        while (buffer.hasRemaining()) {
            position += channel.write(buffer, position);
        }
        buffer.clear();
    }

    /** Writes the metadata for the images appended so far and forces everything to disk. */
    void finish() throws IOException {
        flush();
        long dataBytes = images * rows * width * 4L;
        channel.write(metadata(dataBytes), 0);
        if (channel.size() < DATA_ADDRESS + dataBytes) {
            throw new IOException("short write: " + channel.size() + " bytes");
        }
        channel.force(true);
    }

    private ByteBuffer metadata(long dataBytes) {
        ByteBuffer b = ByteBuffer.allocate((int) DATA_ADDRESS).order(ByteOrder.LITTLE_ENDIAN);
        // superblock version 0
        b.put(new byte[]{(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'});
        b.put(new byte[]{0, 0, 0, 0, 0, 8, 8, 0}); // versions, sizes of offsets and lengths
        b.putShort((short) GROUP_LEAF_K).putShort((short) GROUP_INTERNAL_K).putInt(0);
        b.putLong(0).putLong(UNDEFINED).putLong(DATA_ADDRESS + dataBytes).putLong(UNDEFINED);
        // root group symbol table entry, caching the B-tree and heap addresses
        b.putLong(0).putLong(ROOT_HEADER).putInt(1).putInt(0).putLong(BTREE).putLong(HEAP);

        // root group object header: one symbol table message
        b.position(ROOT_HEADER);
        b.put((byte) 1).put((byte) 0).putShort((short) 1).putInt(1).putInt(24).putInt(0);
        b.putShort((short) 0x11).putShort((short) 16).putInt(0).putLong(BTREE).putLong(HEAP);

        // group B-tree: one leaf child (the symbol table node), keys are heap offsets of names
        b.position(BTREE);
        b.put("TREE".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).put((byte) 0).putShort((short) 1);
        b.putLong(UNDEFINED).putLong(UNDEFINED);
        b.putLong(0).putLong(SYMBOL_NODE).putLong(8);

        // local heap of link names: "" at 0, the dataset name at 8, then one free block
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        int nameEnd = 8 + ((nameBytes.length + 1 + 7) / 8) * 8;
        b.position(HEAP);
        b.put("HEAP".getBytes(StandardCharsets.US_ASCII)).put(new byte[4]);
        b.putLong(HEAP_DATA_SIZE).putLong(nameEnd).putLong(HEAP_DATA);
        b.position(HEAP_DATA + 8);
        b.put(nameBytes);
        b.position(HEAP_DATA + nameEnd);
        b.putLong(1).putLong(HEAP_DATA_SIZE - nameEnd); // free block: no next (1), its size

        // dataset object header (version 1): dataspace, datatype, fill value, layout, then padding
        b.position(DATASET_HEADER);
        b.put((byte) 1).put((byte) 0).putShort((short) 5).putInt(1).putInt(DATASET_HEADER_SIZE).putInt(0);
        int start = b.position();
        // dataspace version 1, rank 3, maximum dimensions present (equal to the dimensions)
        b.putShort((short) 0x01).putShort((short) 56).putInt(0);
        b.put((byte) 1).put((byte) 3).put((byte) 1).put(new byte[5]);
        long[] dims = {images, rows, width};
        for (int r = 0; r < 2; r++) {
            for (long d : dims) {
                b.putLong(d);
            }
        }
        // datatype: IEEE little-endian float32
        b.putShort((short) 0x03).putShort((short) 24).putInt(0);
        b.put((byte) 0x11).put((byte) 0x20).put((byte) 0x1f).put((byte) 0).putInt(4);
        b.putShort((short) 0).putShort((short) 32).put((byte) 23).put((byte) 8).put((byte) 0).put((byte) 23)
                .putInt(127).putInt(0);
        // fill value version 2: allocation late, written if set, defined with the default (0)
        b.putShort((short) 0x05).putShort((short) 8).putInt(0);
        b.put((byte) 2).put((byte) 2).put((byte) 2).put((byte) 1).putInt(0);
        // data layout version 3, contiguous: address and size
        b.putShort((short) 0x08).putShort((short) 24).putInt(0);
        b.put((byte) 3).put((byte) 1).putLong(DATA_ADDRESS).putLong(dataBytes).put(new byte[6]);
        // the rest of the header is one null message
        int used = b.position() - start;
        b.putShort((short) 0).putShort((short) (DATASET_HEADER_SIZE - used - 8)).putInt(0);

        // symbol table node with the dataset's entry
        b.position(SYMBOL_NODE);
        b.put("SNOD".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0).putShort((short) 1);
        b.putLong(8).putLong(DATASET_HEADER).putInt(0).putInt(0).putLong(0).putLong(0);
        b.clear();
        return b;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
