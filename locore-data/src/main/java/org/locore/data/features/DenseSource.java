package org.locore.data.features;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Features stored as one floating-point dataset {@code [N, K, 5 + D]} (contiguous or chunked). */
final class DenseSource implements FeatureSource {
    private final RecordStore store;
    private final FloatType type;
    private final int width;

    DenseSource(RecordStore store, FloatType type, int width) {
        this.store = store;
        this.type = type;
        this.width = width;
    }

    @Override
    public void readRows(int image, int n, float[] dst, int off) throws IOException {
        ByteBuffer b = store.read(image, n);
        type.decode(b, 0, n * width, dst, off);
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}
