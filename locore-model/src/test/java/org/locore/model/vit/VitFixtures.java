package org.locore.model.vit;

import org.locore.model.io.TorchCheckpoint;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Loading of the dinov2/ fixtures shared by the ViT and detector tests. */
final class VitFixtures {
    static final String DIR = "dinov2/";
    static final String EXPECTED = DIR + "dinov2_tiny.expected.safetensors";
    /** The cases with network outputs in the expected file. */
    static final String[] CASES = {"wide_png", "tall_png", "wide_png_query", "tall_png_query"};
    /** The tiny fixture has 4 heads of 16 (not the default 64-dimensional heads). */
    static final int TINY_HEADS = 4;

    private static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] STD = {0.229f, 0.224f, 0.225f};

    private VitFixtures() {
    }

    static Path vitCheckpoint() {
        return Fixtures.path(DIR + "dinov2_tiny.pth");
    }

    static Path detectorCheckpoint() {
        return Fixtures.path(DIR + "detector_tiny.pt");
    }

    /** The state dict of a checkpoint fixture. */
    static Map<String, Tensor> stateDict(Path checkpoint) throws IOException {
        return TorchCheckpoint.open(checkpoint).stateDict();
    }

    /**
     * The network input of a case: its exact OpenCV resize ({@code resized_CASE.png}), /255, ImageNet
     * normalisation, RGB, {@code [1, 3, H, W]}.
     */
    static INDArray input(String caseName) throws IOException {
        BufferedImage img = ImageIO.read(Fixtures.path(DIR + "resized_" + caseName + ".png").toFile());
        int h = img.getHeight();
        int w = img.getWidth();
        Raster r = img.getRaster();
        float[] v = new float[3 * h * w];
        int[] px = new int[r.getNumBands()];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.getPixel(x, y, px);
                for (int c = 0; c < 3; c++) {
                    v[(c * h + y) * w + x] = (px[c] / 255f - MEAN[c]) / STD[c];
                }
            }
        }
        return Nd4j.createFromArray(v).reshape(1, 3, h, w);
    }

    static Tensor expected(String name) throws IOException {
        return Fixtures.tensor(EXPECTED, name);
    }
}
