package org.locore.data.features;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A run of fixed-size records in a file (starting at some byte offset), memory-mapped read-only in several
 * mappings so that regions larger than 2 GB work. Each mapping holds whole records, so a record never
 * straddles two mappings. Reading is thread-safe: every call returns a fresh view and never moves a shared
 * buffer position.
 */
final class MappedRecords implements RecordStore {
    /** Default bytes per mapping: 1 GiB, well below the 2 GB limit of one {@link MappedByteBuffer}. */
    static final long DEFAULT_MAPPING_BYTES = 1L << 30;

    private final long count;
    private final int recordBytes;
    private final long recordsPerMapping;
    private final ByteBuffer[] mappings;

    /**
     * Maps {@code count} records of {@code recordBytes} bytes each, starting at {@code offset}. The caller
     * has already checked that the region lies inside the file.
     *
     * @param mappingBytes the most bytes one mapping may hold (rounded down to whole records, at least one)
     */
    MappedRecords(FileChannel channel, long offset, long count, int recordBytes, long mappingBytes) throws IOException {
        if (recordBytes <= 0 || count < 0) {
            throw new IllegalArgumentException("bad record layout: " + count + " x " + recordBytes + " bytes");
        }
        this.count = count;
        this.recordBytes = recordBytes;
        this.recordsPerMapping = Math.max(1, Math.min(mappingBytes, Integer.MAX_VALUE) / recordBytes);
        long n = count == 0 ? 0 : (count + recordsPerMapping - 1) / recordsPerMapping;
        this.mappings = new ByteBuffer[Math.toIntExact(n)];
        for (int m = 0; m < mappings.length; m++) {
            long first = m * recordsPerMapping;
            long records = Math.min(recordsPerMapping, count - first);
            MappedByteBuffer b = channel.map(FileChannel.MapMode.READ_ONLY, offset + first * recordBytes,
                    records * recordBytes);
            mappings[m] = b.asReadOnlyBuffer();
        }
    }

    /** Number of records. */
    long count() {
        return count;
    }

    /** Bytes per record. */
    int recordBytes() {
        return recordBytes;
    }

    /** Records held by each mapping (the last may hold fewer). */
    long recordsPerMapping() {
        return recordsPerMapping;
    }

    /** Number of mappings. */
    int mappingCount() {
        return mappings.length;
    }

    /** A little-endian read-only view of record {@code index}'s bytes, position 0. */
    ByteBuffer record(long index) {
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("record " + index + " of " + count);
        }
        int m = (int) (index / recordsPerMapping);
        int pos = (int) ((index % recordsPerMapping) * recordBytes);
        return mappings[m].slice(pos, recordBytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The whole record {@code index} (all its rows, whatever {@code rows} asks for). */
    @Override
    public ByteBuffer read(long index, int rows) {
        return record(index);
    }
}
