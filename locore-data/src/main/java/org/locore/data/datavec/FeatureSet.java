package org.locore.data.datavec;

import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The images of one or more (local HDF5 file, global descriptor file) pairs, indexed as one list: the images of
 * the first pair, then those of the second, and so on (a benchmark's gallery followed by +1M distractors). Reads
 * the blocks of the LOCORE input sequence for lists of images.
 */
public final class FeatureSet {
    private final List<LocalFeatures> locals;
    private final List<GlobalDescriptors> globals;
    private final int[] starts;
    private final int size;
    private final int dim;

    /** One pair of files describing the same images. */
    public FeatureSet(LocalFeatures locals, GlobalDescriptors globals) {
        this(List.of(locals), List.of(globals));
    }

    private FeatureSet(List<LocalFeatures> locals, List<GlobalDescriptors> globals) {
        this.locals = List.copyOf(locals);
        this.globals = List.copyOf(globals);
        this.starts = new int[locals.size() + 1];
        int d = locals.get(0).descriptorDim();
        for (int i = 0; i < locals.size(); i++) {
            LocalFeatures l = locals.get(i);
            GlobalDescriptors g = globals.get(i);
            if (g.size() != l.numImages()) {
                throw new IllegalArgumentException(g.file() + " holds " + g.size() + " global descriptors but "
                        + l.file() + " holds " + l.numImages() + " images");
            }
            if (l.descriptorDim() != d || g.dim() != d) {
                throw new IllegalArgumentException("descriptor dimensions differ: " + l.file() + " has "
                        + l.descriptorDim() + ", " + g.file() + " has " + g.dim() + ", expected " + d);
            }
            starts[i + 1] = Math.addExact(starts[i], l.numImages());
        }
        this.size = starts[locals.size()];
        this.dim = d;
    }

    /** This set followed by the images of {@code more} (their indices start at {@link #size()}). */
    public FeatureSet followedBy(FeatureSet more) {
        List<LocalFeatures> l = new java.util.ArrayList<>(locals);
        l.addAll(more.locals);
        List<GlobalDescriptors> g = new java.util.ArrayList<>(globals);
        g.addAll(more.globals);
        return new FeatureSet(l, g);
    }

    /** Number of images. */
    public int size() {
        return size;
    }

    /** Descriptor dimension (local and global). */
    public int dim() {
        return dim;
    }

    /** The smallest number of rows per image over the files. */
    public int rowsPerImage() {
        return locals.stream().mapToInt(LocalFeatures::rowsPerImage).min().orElse(0);
    }

    /** A description of the files, for messages. */
    public String files() {
        StringBuilder b = new StringBuilder();
        for (LocalFeatures l : locals) b.append(b.length() > 0 ? " + " : "").append(l.file());
        return b.toString();
    }

    private int part(int image) {
        if (image < 0 || image >= size) {
            throw new IllegalArgumentException("image " + image + " out of range [0, " + size + ") of " + files());
        }
        int p = 0;
        while (image >= starts[p + 1]) p++;
        return p;
    }

    /**
     * The sequence-block arrays of a list of images: {@code local [n, d, E]} float, {@code scales [n, d]} long,
     * {@code mask [n, d]} long (1 = padding) and {@code global [n, 1, E]} float.
     */
    public Blocks read(int[] images, int d) {
        int n = images.length;
        float[] local = new float[n * d * dim];
        long[] scales = new long[n * d];
        long[] mask = new long[n * d];
        float[] global = new float[n * dim];
        int w = 5 + dim;
        try {
            if (locals.size() == 1) {
                split(locals.get(0).readBatch(images, d), 0, n * d, w, local, scales, mask);
            } else {
                for (int i = 0; i < n; i++) {
                    int p = part(images[i]);
                    float[] rows = locals.get(p).readRows(images[i] - starts[p], d);
                    split(rows, i * d, d, w, local, scales, mask);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (int i = 0; i < n; i++) {
            int p = part(images[i]);
            globals.get(p).get(images[i] - starts[p], global, i * dim);
        }
        return new Blocks(Nd4j.createFromArray(local).reshape(n, d, dim), Nd4j.createFromArray(scales).reshape(n, d),
                Nd4j.createFromArray(mask).reshape(n, d), Nd4j.createFromArray(global).reshape(n, 1, dim));
    }

    private void split(float[] rows, int firstRow, int count, int w, float[] local, long[] scales, long[] mask) {
        for (int r = 0; r < count; r++) {
            int p = r * w;
            int o = firstRow + r;
            scales[o] = Math.round(rows[p + 2]);
            mask[o] = rows[p + 3] != 0f ? 1 : 0;
            System.arraycopy(rows, p + 5, local, o * dim, dim);
        }
    }

    /** Sequence-block arrays of n images (see {@link #read(int[], int)}). */
    public record Blocks(INDArray local, INDArray scales, INDArray mask, INDArray global) {
        /** The same arrays with the first dimension split into {@code [b, k]}. */
        public Blocks grouped(int b, int k) {
            return new Blocks(local.reshape(b, k, local.size(1), local.size(2)), scales.reshape(b, k, scales.size(1)),
                    mask.reshape(b, k, mask.size(1)), global.reshape(b, k, 1, global.size(2)));
        }
    }
}
