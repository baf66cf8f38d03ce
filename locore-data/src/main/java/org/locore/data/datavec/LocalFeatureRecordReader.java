package org.locore.data.datavec;

import org.datavec.api.records.Record;
import org.datavec.api.records.metadata.RecordMetaData;
import org.datavec.api.records.metadata.RecordMetaDataIndex;
import org.datavec.api.writable.IntWritable;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.Writable;
import org.datavec.api.writable.batch.NDArrayRecordBatch;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.model.io.FormatException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.IntStream;

/**
 * A DataVec record reader that streams images' local features (their first {@code D} rows: descriptors, scale
 * ids, padding masks) and, optionally, their global descriptors, in any image order.
 *
 * <p>Record layout, per image: {@code [image index, descriptors [D, dim] float, scale ids [D] long,
 * mask [D] long (1 = padding), global [G] float (when a global file is given)]}. {@link #next(int)} returns an
 * {@link NDArrayRecordBatch} whose arrays carry a leading batch dimension
 * ({@code [b], [b, D, dim], [b, D], [b, D], [b, G]}); reading in batches is far faster than per-record
 * writables. Memory is bounded by one batch: rows are read from the HDF5 file on demand.
 */
public final class LocalFeatureRecordReader extends ArrayRecordReader {
    /** Position of each column in a record. */
    public static final int INDEX = 0, DESCRIPTORS = 1, SCALES = 2, MASK = 3, GLOBAL = 4;

    private final LocalFeatures locals;
    private final GlobalDescriptors globals;
    private final int descriptors;
    private final int[] order;
    private int cursor;

    /**
     * @param locals      the local feature file
     * @param globals     the matching global descriptor file, or null for none
     * @param descriptors rows per image to read (D; at most the file's rows per image)
     * @param order       image indices in the order to stream them, or null for 0..N-1
     */
    public LocalFeatureRecordReader(LocalFeatures locals, GlobalDescriptors globals, int descriptors, int[] order)
            throws FormatException {
        this.locals = locals;
        this.globals = globals;
        this.descriptors = descriptors;
        if (descriptors < 1 || descriptors > locals.rowsPerImage()) {
            throw new IllegalArgumentException(locals.file() + ": asked for " + descriptors
                    + " descriptors per image but the file holds " + locals.rowsPerImage());
        }
        if (globals != null && globals.size() != locals.numImages()) {
            throw new FormatException(globals.file(), globals.size() + " global descriptors but "
                    + locals.file() + " holds " + locals.numImages() + " images");
        }
        this.order = order == null ? IntStream.range(0, locals.numImages()).toArray() : order.clone();
        for (int i : this.order) {
            if (i < 0 || i >= locals.numImages()) {
                throw new IllegalArgumentException(locals.file() + ": image index " + i + " out of range [0, "
                        + locals.numImages() + ")");
            }
        }
    }

    /** Number of records (images) this reader streams. */
    public int size() {
        return order.length;
    }

    @Override
    public boolean hasNext() {
        return cursor < order.length;
    }

    /** The next {@code num} images (fewer at the end) as one batch of arrays. */
    @Override
    public List<List<Writable>> next(int num) {
        if (!hasNext()) throw new NoSuchElementException("no more images");
        int n = Math.min(num, order.length - cursor);
        int[] images = new int[n];
        System.arraycopy(order, cursor, images, 0, n);
        cursor += n;
        return new NDArrayRecordBatch(readBatch(images));
    }

    /**
     * Reads the given images as arrays {@code [index [b], descriptors [b, D, dim], scales [b, D], mask [b, D]
     * (, global [b, G])]}.
     */
    public List<INDArray> readBatch(int[] images) {
        int b = images.length;
        int dim = locals.descriptorDim();
        int width = locals.rowWidth();
        float[] rows;
        try {
            rows = locals.readBatch(images, descriptors);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        float[] desc = new float[b * descriptors * dim];
        long[] scales = new long[b * descriptors];
        long[] mask = new long[b * descriptors];
        for (int r = 0; r < b * descriptors; r++) {
            int p = r * width;
            scales[r] = Math.round(rows[p + 2]);
            mask[r] = rows[p + 3] != 0f ? 1 : 0;
            System.arraycopy(rows, p + 5, desc, r * dim, dim);
        }
        List<INDArray> out = new ArrayList<>(5);
        out.add(Nd4j.createFromArray(images));
        out.add(Nd4j.createFromArray(desc).reshape(b, descriptors, dim));
        out.add(Nd4j.createFromArray(scales).reshape(b, descriptors));
        out.add(Nd4j.createFromArray(mask).reshape(b, descriptors));
        if (globals != null) {
            float[] g = new float[b * globals.dim()];
            for (int i = 0; i < b; i++) globals.get(images[i], g, i * globals.dim());
            out.add(Nd4j.createFromArray(g).reshape(b, globals.dim()));
        }
        return out;
    }

    @Override
    public Record nextRecord() {
        if (!hasNext()) throw new NoSuchElementException("no more images");
        int pos = cursor;
        int image = order[cursor++];
        return new org.datavec.api.records.impl.Record(single(image),
                new RecordMetaDataIndex(pos, locals.file().toUri(), LocalFeatureRecordReader.class));
    }

    private List<Writable> single(int image) {
        List<INDArray> arrays = readBatch(new int[]{image});
        List<Writable> rec = new ArrayList<>(arrays.size());
        rec.add(new IntWritable(image));
        for (int i = 1; i < arrays.size(); i++) {
            INDArray a = arrays.get(i);
            rec.add(new NDArrayWritable(a.reshape(java.util.Arrays.copyOfRange(a.shape(), 1, a.rank()))));
        }
        return rec;
    }

    @Override
    public void reset() {
        cursor = 0;
    }

    @Override
    public Record loadFromMetaData(RecordMetaData meta) {
        if (!(meta instanceof RecordMetaDataIndex idx) || idx.getIndex() < 0 || idx.getIndex() >= order.length) {
            throw new IllegalArgumentException("not a record of this reader: " + meta);
        }
        int image = order[(int) idx.getIndex()];
        return new org.datavec.api.records.impl.Record(single(image), meta);
    }

}
