package org.locore.data.features;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The stored bytes of one image of a features dataset: for a 3-D dataset {@code [N, K, C]} the first
 * {@code rows} rows of image {@code index} (at least {@code rows * C} elements, row-major); for a 1-D
 * compound dataset the whole record. Implementations are thread-safe.
 */
interface RecordStore extends Closeable {
    /** A little-endian view whose position 0 is the start of the image's bytes. */
    ByteBuffer read(long index, int rows) throws IOException;

    @Override
    default void close() throws IOException {
    }
}
