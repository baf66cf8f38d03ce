package org.locore.data.features;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Features stored as a 1-D compound dataset of records {@code {metadata: float[K, 5], descriptor: float[K, D]}}
 * (the AMES-served files). The record bytes are decoded here: the members are fixed-size arrays at known
 * offsets of each record.
 */
final class CompoundSource implements FeatureSource {
    private final RecordStore store;
    private final int metadataOffset;
    private final FloatType metadataType;
    private final int descriptorOffset;
    private final FloatType descriptorType;
    private final int dim;

    CompoundSource(RecordStore store, int metadataOffset, FloatType metadataType, int descriptorOffset,
                   FloatType descriptorType, int dim) {
        this.store = store;
        this.metadataOffset = metadataOffset;
        this.metadataType = metadataType;
        this.descriptorOffset = descriptorOffset;
        this.descriptorType = descriptorType;
        this.dim = dim;
    }

    @Override
    public void readRows(int image, int n, float[] dst, int off) throws IOException {
        ByteBuffer b = store.read(image, n);
        int width = 5 + dim;
        for (int r = 0; r < n; r++) {
            int p = off + r * width;
            metadataType.decode(b, metadataOffset + r * 5 * metadataType.size(), 5, dst, p);
            descriptorType.decode(b, descriptorOffset + r * dim * descriptorType.size(), dim, dst, p + 5);
        }
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}
