package org.locore.data.features;

import java.io.Closeable;
import java.io.IOException;

/** Produces the logical rows {@code [n, 5 + D]} of one image, whatever the stored layout. Thread-safe. */
interface FeatureSource extends Closeable {
    /** Writes image {@code image}'s first {@code n} rows (row-major, {@code 5 + D} values each) to {@code dst[off ..]}. */
    void readRows(int image, int n, float[] dst, int off) throws IOException;
}
