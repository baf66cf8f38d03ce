package org.locore.data.image;

import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.Size;
import org.locore.model.io.FormatException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * The AMES extraction's image preparation, reproduced with the same OpenCV calls so that the resized pixels are
 * bit-identical: decode to 8-bit BGR with OpenCV ({@code IMREAD_COLOR}: EXIF orientation applied, grey and
 * alpha images converted to 3 channels); scale {@code s = imsize / max(H, W)} of the full image; for queries,
 * crop to {@code img[int(y1):int(y2), int(x1):int(x2)]}; per axis the factor
 * {@code s / ((s*L/p) / max(rint(s*L/p), 1))} that makes each side a multiple of the patch size {@code p};
 * {@code cv2.resize(fx, fy)} with {@code INTER_AREA} when either factor is below 1, {@code INTER_LINEAR} when
 * either is above 1; then float32 {@code /255}, ImageNet mean/std and RGB channel order, {@code [1, 3, H, W]}.
 */
public final class ImagePreprocessor {
    private static final Logger LOG = LoggerFactory.getLogger(ImagePreprocessor.class);
    /** AMES's image size for DINOv2 extraction (longest side of the full image). */
    public static final int DEFAULT_IMSIZE = 770;
    /** DINOv2's patch size. */
    public static final int DEFAULT_PATCH = 14;
    /** ImageNet channel means, RGB. */
    static final float[] MEAN_RGB = {0.485f, 0.456f, 0.406f};
    /** ImageNet channel standard deviations, RGB. */
    static final float[] STD_RGB = {0.229f, 0.224f, 0.225f};

    private final int imsize;
    private final int patch;

    /**
     * One prepared image.
     *
     * @param tensor  {@code [1, 3, height, width]} float32, normalised, RGB
     * @param bgr     the resized 8-bit pixels, row-major {@code height x width x 3}, BGR (what {@code cv2.resize} returned)
     * @param height  network input height (a multiple of the patch size)
     * @param width   network input width
     * @param scaleX  horizontal resize factor passed to OpenCV
     * @param scaleY  vertical resize factor passed to OpenCV
     */
    public record Prepared(INDArray tensor, byte[] bgr, int height, int width, double scaleX, double scaleY) {
    }

    /** AMES's defaults: 770 pixels, patch 14. */
    public ImagePreprocessor() {
        this(DEFAULT_IMSIZE, DEFAULT_PATCH);
    }

    /**
     * @param imsize longest side the full image is scaled to
     * @param patch  each network input side is made a multiple of this
     */
    public ImagePreprocessor(int imsize, int patch) {
        if (imsize < 1 || patch < 1) {
            throw new IllegalArgumentException("imsize " + imsize + " and patch " + patch + " must be positive");
        }
        this.imsize = imsize;
        this.patch = patch;
    }

    /** Prepares a whole (gallery) image. */
    public Prepared prepare(Path image) throws IOException {
        return prepare(image, null);
    }

    /**
     * Prepares an image, cropped to a query box when one is given.
     *
     * @param image the image file (any format OpenCV decodes)
     * @param bbx   {@code [x1, y1, x2, y2]} in pixels of the full image (the ground truth's {@code bbx}), or null;
     *              coordinates are truncated toward zero and clipped to the image, as Python slicing does for
     *              boxes inside the image
     * @throws FormatException when the file cannot be decoded or the box selects no pixels
     */
    public Prepared prepare(Path image, double[] bbx) throws IOException {
        if (!Files.isRegularFile(image)) {
            throw new NoSuchFileException(image.toString());
        }
        Mat img = imread(image.toAbsolutePath().toString(), IMREAD_COLOR);
        try {
            if (img == null || img.empty()) {
                throw new FormatException(image, "OpenCV cannot decode this file as an image");
            }
            if (img.type() != CV_8UC3) {
                throw new FormatException(image, "decoded to OpenCV type " + img.type() + ", expected 8-bit BGR");
            }
            // AMES: imsize / max(img.shape), where the shape includes the channel count
            double scale = (double) imsize / Math.max(Math.max(img.rows(), img.cols()), img.channels());
            Mat src = img;
            if (bbx != null) {
                src = crop(image, img, bbx);
            }
            double sx = quantizationFactor(src.cols(), scale, patch);
            double sy = quantizationFactor(src.rows(), scale, patch);
            Mat out;
            if (sx < 1.0 || sy < 1.0 || sx > 1.0 || sy > 1.0) {
                out = new Mat();
                try (Size auto = new Size(0, 0)) {
                    // dsize (0, 0): OpenCV derives the size from fx, fy and keeps them as the exact factors
                    resize(src, out, auto, sx, sy, sx < 1.0 || sy < 1.0 ? INTER_AREA : INTER_LINEAR);
                }
            } else {
                out = src.clone();
            }
            try {
                int h = out.rows();
                int w = out.cols();
                byte[] bgr = new byte[h * w * 3];
                out.data().get(bgr);
                LOG.debug("{}: {}x{} -> {}x{} (fx {}, fy {})", image, src.cols(), src.rows(), w, h, sx, sy);
                return new Prepared(normalize(bgr, h, w), bgr, h, w, sx, sy);
            } finally {
                out.close();
                if (src != img) {
                    src.close();
                }
            }
        } finally {
            if (img != null) {
                img.close();
            }
        }
    }

    private static Mat crop(Path image, Mat img, double[] bbx) throws FormatException {
        if (bbx.length != 4) {
            throw new FormatException(image, "query box has " + bbx.length + " values, expected [x1, y1, x2, y2]");
        }
        int x1 = clip((long) bbx[0], img.cols());
        int y1 = clip((long) bbx[1], img.rows());
        int x2 = clip((long) bbx[2], img.cols());
        int y2 = clip((long) bbx[3], img.rows());
        if (x2 <= x1 || y2 <= y1) {
            throw new FormatException(image, "query box " + java.util.Arrays.toString(bbx) + " selects no pixels of the "
                    + img.cols() + "x" + img.rows() + " image");
        }
        try (Rect r = new Rect(x1, y1, x2 - x1, y2 - y1); Mat roi = new Mat(img, r)) {
            return roi.clone();
        }
    }

    private static int clip(long v, int size) {
        return (int) Math.max(0, Math.min(v, size));
    }

    /**
     * AMES's per-axis resize factor: {@code scale / ((scale*side/patch) / max(rint(scale*side/patch), 1))}, in
     * the same double operations as the reference so OpenCV receives the identical factor.
     */
    public static double quantizationFactor(int side, double scale, int patch) {
        double newSide = scale * side;
        double quantizeTo = Math.max(Math.rint(newSide / patch), 1.0);
        return scale / ((newSide / patch) / quantizeTo);
    }

    /**
     * 8-bit BGR pixels ({@code h x w x 3}) to the network input {@code [1, 3, h, w]}: {@code (v/255 - mean)/std}
     * in float32, RGB order.
     */
    public static INDArray normalize(byte[] bgr, int h, int w) {
        if (bgr.length != h * w * 3) {
            throw new IllegalArgumentException(bgr.length + " bytes for " + h + "x" + w + "x3");
        }
        float[] v = new float[3 * h * w];
        int plane = h * w;
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                float x = (bgr[i * 3 + 2 - c] & 0xff) / 255f;
                v[c * plane + i] = (x - MEAN_RGB[c]) / STD_RGB[c];
            }
        }
        return Nd4j.createFromArray(v).reshape(1, 3, h, w);
    }
}
