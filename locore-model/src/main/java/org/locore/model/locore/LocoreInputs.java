package org.locore.model.locore;

import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One batch of re-ranking inputs: for each of B sequences a query and K gallery images, each with a global
 * descriptor and D local descriptors (scale index and HDF5 padding mask: 1 = padding descriptor).
 *
 * @param queryLocal    {@code [B, D, E]} float
 * @param queryScales   {@code [B, D]} long
 * @param queryMask     {@code [B, D]} long, 1 = padding
 * @param queryGlobal   {@code [B, 1, E]} float
 * @param galleryLocal  {@code [B, K, D, E]} float
 * @param galleryScales {@code [B, K, D]} long
 * @param galleryMask   {@code [B, K, D]} long, 1 = padding
 * @param galleryGlobal {@code [B, K, 1, E]} float
 * @param positiveMask  {@code [B, K]} long training labels (1 = same landmark), or null
 */
public record LocoreInputs(INDArray queryLocal, INDArray queryScales, INDArray queryMask, INDArray queryGlobal,
                           INDArray galleryLocal, INDArray galleryScales, INDArray galleryMask,
                           INDArray galleryGlobal, INDArray positiveMask) {

    /** Checks that the shapes agree with each other. */
    public LocoreInputs {
        long b = queryLocal.size(0);
        long d = queryLocal.size(1);
        long e = queryLocal.size(2);
        long k = galleryLocal.size(1);
        check("query_scales", queryScales, b, d);
        check("query_mask", queryMask, b, d);
        check("query_global", queryGlobal, b, 1, e);
        check("gallery_local", galleryLocal, b, k, d, e);
        check("gallery_scales", galleryScales, b, k, d);
        check("gallery_mask", galleryMask, b, k, d);
        check("gallery_global", galleryGlobal, b, k, 1, e);
        if (positiveMask != null) check("positive_mask", positiveMask, b, k);
    }

    private static void check(String name, INDArray a, long... shape) {
        if (!Arrays.equals(a.shape(), shape)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(a.shape()) + ", expected "
                    + Arrays.toString(shape));
        }
    }

    /** Batch size B. */
    public int batch() {
        return (int) queryLocal.size(0);
    }

    /** Descriptors per image D. */
    public int descriptors() {
        return (int) queryLocal.size(1);
    }

    /** Gallery images per sequence K. */
    public int gallerySize() {
        return (int) galleryLocal.size(1);
    }

    /** Descriptor width E. */
    public int width() {
        return (int) queryLocal.size(2);
    }

    /**
     * Reads a batch stored under the reference names ({@code query_local}, ..., optional {@code positive_mask}).
     *
     * @throws FormatException naming the file and the missing or mis-shaped tensor
     */
    public static LocoreInputs read(Path file) throws IOException {
        try (Safetensors st = Safetensors.open(file)) {
            INDArray pm = st.contains("positive_mask") ? get(st, "positive_mask", DataType.LONG) : null;
            try {
                return new LocoreInputs(get(st, "query_local", DataType.FLOAT), get(st, "query_scales", DataType.LONG),
                        get(st, "query_mask", DataType.LONG), get(st, "query_global", DataType.FLOAT),
                        get(st, "gallery_local", DataType.FLOAT), get(st, "gallery_scales", DataType.LONG),
                        get(st, "gallery_mask", DataType.LONG), get(st, "gallery_global", DataType.FLOAT), pm);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new FormatException(file, e.getMessage());
            }
        }
    }

    private static INDArray get(Safetensors st, String name, DataType type) throws IOException {
        Tensor t = st.get(name);
        return t.toINDArray(type);
    }
}
