package org.locore.data.features;

import io.jhdf.HdfFile;
import io.jhdf.WritableHdfFile;
import io.jhdf.api.DatasetCreationOptions;
import org.locore.model.io.AtomicFiles;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a local features file: HDF5 dataset {@value LocalFeatures#DATASET}, float32 {@code [N, K, 5 + D]},
 * either contiguous (as LOCORE's extractor writes it) or chunked one image per chunk with shuffle + gzip.
 * The file is readable by h5py and by {@link LocalFeatures}.
 *
 * <p>Images are added one by one with {@link #add} and the file is committed by {@link #finish()}: everything
 * goes to a temporary file beside the target, which is renamed into place only when complete.
 * {@link #close()} without {@code finish()} (an exception half-way in a try-with-resources block) discards
 * the temporary file, so an existing file is never replaced by a partial one.
 *
 * <p>Memory: {@link Storage#CONTIGUOUS} streams the values to disk as they come (a million images need no
 * more memory than one); {@link Storage#CHUNKED_GZIP} is written by jhdf, which writes a dataset in one go, so
 * all images are held in memory until {@code finish()} (about {@code N * K * (5 + D) * 4} bytes).
 * A writer is used by one thread.
 */
public final class LocalFeaturesWriter implements AutoCloseable {
    /** How the dataset is stored. */
    public enum Storage {
        /** One contiguous block (no compression). */
        CONTIGUOUS,
        /** Chunks of one image ({@code [1, K, 5 + D]}), byte shuffle then gzip (level 4). */
        CHUNKED_GZIP
    }

    private final Path target;
    private final int rows;
    private final int dim;
    private final List<float[][]> images = new ArrayList<>();
    private final Path tmp;
    private final ContiguousHdf5Writer stream;
    private int count;
    private boolean closed;

    private LocalFeaturesWriter(Path target, int rows, int dim, Storage storage) throws IOException {
        if (rows <= 0 || dim <= 0) {
            throw new IllegalArgumentException(target + ": need K > 0 rows per image and D > 0, got K = " + rows
                    + ", D = " + dim);
        }
        this.target = target;
        this.rows = rows;
        this.dim = dim;
        this.tmp = AtomicFiles.temporaryBeside(target);
        try {
            this.stream = storage == Storage.CONTIGUOUS
                    ? new ContiguousHdf5Writer(tmp, LocalFeatures.DATASET, rows, 5 + dim) : null;
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Starts a file of images with {@code rowsPerImage} rows of {@code 5 + descriptorDim} values. */
    public static LocalFeaturesWriter create(Path file, int rowsPerImage, int descriptorDim, Storage storage)
            throws IOException {
        return new LocalFeaturesWriter(file, rowsPerImage, descriptorDim, storage);
    }

    /**
     * Writes {@code rowMajor} ({@code numImages * K * (5 + D)} values) in one call.
     */
    public static void write(Path file, float[] rowMajor, int numImages, int rowsPerImage, int descriptorDim,
                             Storage storage) throws IOException {
        long per = (long) rowsPerImage * (5 + descriptorDim);
        if (numImages < 0 || rowMajor.length != numImages * per) {
            throw new IllegalArgumentException(file + ": " + rowMajor.length + " values are not " + numImages
                    + " images of " + rowsPerImage + " x " + (5 + descriptorDim));
        }
        try (LocalFeaturesWriter w = create(file, rowsPerImage, descriptorDim, storage)) {
            for (int i = 0; i < numImages; i++) {
                w.add(rowMajor, (int) (i * per));
            }
            w.finish();
        }
    }

    /** Adds the next image: {@code K * (5 + D)} values of {@code rowMajor} from {@code off}. */
    public void add(float[] rowMajor, int off) throws IOException {
        checkOpen();
        int width = 5 + dim;
        if (off < 0 || off + (long) rows * width > rowMajor.length) {
            throw new IllegalArgumentException(target + ": an image needs " + rows * width + " values from " + off
                    + ", the array has " + rowMajor.length);
        }
        if (stream != null) {
            stream.append(rowMajor, off);
        } else {
            float[][] image = new float[rows][width];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(rowMajor, off + r * width, image[r], 0, width);
            }
            images.add(image);
        }
        count++;
    }

    /** Adds the next image; it must have exactly {@code K} rows of dimension {@code D}. */
    public void add(ImageFeatures image) throws IOException {
        if (image.rows() != rows || image.dim() != dim) {
            throw new IllegalArgumentException(target + ": image of " + image.rows() + " rows of dimension "
                    + image.dim() + ", the file holds " + rows + " rows of dimension " + dim);
        }
        add(image.toRows(), 0);
    }

    /** Number of images added so far. */
    public int size() {
        return count;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(target + ": writer is closed");
        }
    }

    /** Completes the file and renames it into place; the writer is closed afterwards. */
    public void finish() throws IOException {
        checkOpen();
        closed = true;
        try {
            if (stream != null) {
                try (stream) {
                    stream.finish();
                }
            } else {
                writeWithJhdf();
            }
            AtomicFiles.commit(tmp, target);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    private void writeWithJhdf() throws IOException {
        float[][][] data = images.toArray(new float[0][][]);
        images.clear();
        if (data.length == 0) {
            // an empty dataset has no chunks (and jhdf cannot write one): store it contiguous
            try (ContiguousHdf5Writer empty = new ContiguousHdf5Writer(tmp, LocalFeatures.DATASET, rows, 5 + dim)) {
                empty.finish();
            }
            return;
        }
        try (WritableHdfFile out = HdfFile.write(tmp)) {
            DatasetCreationOptions options = DatasetCreationOptions.builder()
                    .chunkDimensions(1, rows, 5 + dim).shuffle().deflate(4).build();
            out.putDataset(LocalFeatures.DATASET, data, options);
        } catch (RuntimeException e) {
            throw new IOException(target + ": cannot write HDF5: " + LocalFeatures.describe(e), e);
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Discards the temporary file unless {@link #finish()} completed. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        images.clear();
        try {
            if (stream != null) {
                stream.close();
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
