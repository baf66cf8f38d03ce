package org.locore.apps.extract;

import org.locore.data.image.ImagePreprocessor;
import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.locore.model.io.TorchCheckpoint;
import org.locore.model.vit.AmesDetector;
import org.locore.model.vit.DetectorOutput;
import org.locore.model.vit.Dinov2Vit;
import org.locore.model.vit.VitConfig;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * One image to its LOCORE/AMES features: {@link ImagePreprocessor} (AMES resize, optional query crop) ->
 * {@link Dinov2Vit} -> {@link AmesDetector} -> the top-K rows of the local features file and the two global
 * descriptors. Not thread-safe (the SameDiff graphs are run by one thread).
 *
 * <p>Row layout ({@code 5 + D} values), for the {@code min(N, K)} patches with the largest detector weights in
 * descending weight order: {@code [y, x, 0, 0, weight, descriptor]}; rows beyond the image's patch count are
 * zeros with the mask column (3) set to 1. {@code y} and {@code x} are the patch centre in pixels of the resized
 * network input divided by its height / width: {@code (row * p + p/2) / H'} and {@code (col * p + p/2) / W'}
 * for the patch in grid row {@code row}, column {@code col} (patch size {@code p}), computed in float32. This is
 * AMES's {@code calculate_receptive_boxes} (column 0 from the row index over the height, column 1 from the column
 * index over the width). For queries the centres stay relative to the cropped, resized image: AMES's extraction
 * afterwards rewrites query positions into full-image coordinates ({@code fix_query_pos}, which mixes the x and
 * y box extents); LOCORE does not read these two columns, so the unmodified resized-image convention is kept.
 * The scale index (column 2) is 0: DINOv2 is extracted at one scale.
 */
public final class Extractor {
    private final ImagePreprocessor preprocessor;
    private final Dinov2Vit vit;
    private final AmesDetector detector;
    private final int topK;

    /** The features of one image. */
    public record Result(float[] rows, float[] global, float[] clsGlobal, int height, int width) {
        /**
         * @param rows      {@code K * (5 + D)} values, row-major
         * @param global    detector-weighted global descriptor, {@code D} values, L2-normalised
         * @param clsGlobal L2-normalised CLS token, {@code D} values
         * @param height    network input height H'
         * @param width     network input width W'
         */
        public Result {
        }
    }

    /**
     * @param preprocessor image preparation (image size, patch size)
     * @param vit          the backbone
     * @param detector     the local feature detector (its width is the descriptor dimension)
     * @param topK         rows per image K
     */
    public Extractor(ImagePreprocessor preprocessor, Dinov2Vit vit, AmesDetector detector, int topK) {
        if (topK < 1) {
            throw new IllegalArgumentException("--topk must be positive, got " + topK);
        }
        if (vit.config().width() != detector.width()) {
            throw new IllegalArgumentException("the ViT has width " + vit.config().width() + " but the detector expects "
                    + detector.width());
        }
        this.preprocessor = preprocessor;
        this.vit = vit;
        this.detector = detector;
        this.topK = topK;
    }

    /**
     * Loads the two checkpoints ({@code dinov2_vitb14_reg4_pretrain.pth}, {@code dinov2_detector.pt}).
     *
     * @param heads attention heads of the ViT, or 0 for {@code width / 64} (every released DINOv2)
     * @throws FormatException when a checkpoint is not what is expected
     */
    public static Extractor load(Path vitFile, Path detectorFile, int heads, int imsize, int topK) throws IOException {
        Map<String, Tensor> sd = TorchCheckpoint.open(vitFile).stateDict();
        VitConfig config = heads > 0 ? VitConfig.infer(sd, vitFile, heads) : VitConfig.infer(sd, vitFile);
        Dinov2Vit vit = Dinov2Vit.fromStateDict(sd, config, vitFile);
        AmesDetector det = AmesDetector.fromStateDict(TorchCheckpoint.open(detectorFile).stateDict(), detectorFile);
        if (det.width() != config.width()) {
            throw new FormatException(detectorFile, "detector for width " + det.width() + ", but " + vitFile
                    + " has width " + config.width());
        }
        return new Extractor(new ImagePreprocessor(imsize, config.patchSize()), vit, det, topK);
    }

    /** Rows per image K. */
    public int topK() {
        return topK;
    }

    /** Descriptor dimension D. */
    public int dim() {
        return detector.width();
    }

    /**
     * Extracts one image.
     *
     * @param image the image file
     * @param bbx   query box {@code [x1, y1, x2, y2]} in full-image pixels, or null for the whole image
     * @throws IOException when the image cannot be read or decoded, or the box selects no pixels
     */
    public Result extract(Path image, double[] bbx) throws IOException {
        ImagePreprocessor.Prepared p;
        try {
            p = preprocessor.prepare(image, bbx);
        } catch (RuntimeException e) {
            // OpenCV reports some broken files by throwing: that is a problem of this image, not of the run
            throw new FormatException(image, "cannot be decoded: " + e.getMessage(), e);
        }
        Dinov2Vit.Output v = vit.forward(p.tensor());
        DetectorOutput d = detector.detect(v.patchTokens());
        float[] rows = localRows(d, v.gridH(), v.gridW(), vit.config().patchSize(), topK);
        return new Result(rows, d.globalDescriptor(), AmesDetector.clsGlobal(v.cls()), p.height(), p.width());
    }

    /**
     * The {@code K} rows of one image from the detector's output over a {@code gridH x gridW} patch grid (tokens
     * row-major over the grid), as described in the class comment.
     */
    public static float[] localRows(DetectorOutput d, int gridH, int gridW, int patch, int topK) {
        if (d.size() != gridH * gridW) {
            throw new IllegalArgumentException(d.size() + " tokens for a " + gridH + "x" + gridW + " grid");
        }
        int dim = (int) d.descriptors().size(1);
        int width = 5 + dim;
        float[] rows = new float[topK * width];
        DetectorOutput.TopK top = d.topK(topK);
        int n = top.ids().length;
        float[] desc = n == 0 ? new float[0] : top.descriptors().reshape(-1).toFloatVector();
        float height = gridH * patch;
        float wdt = gridW * patch;
        for (int r = 0; r < n; r++) {
            int id = top.ids()[r];
            int o = r * width;
            rows[o] = (id / gridW * patch + patch / 2f) / height;
            rows[o + 1] = (id % gridW * patch + patch / 2f) / wdt;
            rows[o + 4] = top.weights()[r];
            System.arraycopy(desc, r * dim, rows, o + 5, dim);
        }
        for (int r = n; r < topK; r++) {
            rows[r * width + 3] = 1f;
        }
        return rows;
    }

    /** The rows of an image that could not be read: all padding (mask 1), zeros elsewhere. */
    public static float[] paddingRows(int topK, int dim) {
        float[] rows = new float[topK * (5 + dim)];
        for (int r = 0; r < topK; r++) {
            rows[r * (5 + dim) + 3] = 1f;
        }
        return rows;
    }
}
