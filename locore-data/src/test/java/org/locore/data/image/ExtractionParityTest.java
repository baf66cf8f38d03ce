package org.locore.data.image;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.locore.model.io.Tensor;
import org.locore.model.io.TorchCheckpoint;
import org.locore.model.vit.AmesDetector;
import org.locore.model.vit.DetectorOutput;
import org.locore.model.vit.Dinov2Vit;
import org.locore.model.vit.VitConfig;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The whole extraction chain from image files — {@link ImagePreprocessor} (crop, resize), the DINOv2 ViT and
 * the AMES detector, both loaded from the {@code .pth}/{@code .pt} fixtures — against the reference outputs of
 * the two query cases (shrunk position grid), within 1e-4.
 */
class ExtractionParityTest {
    static final String DIR = "dinov2/";
    static final String EXPECTED = DIR + "dinov2_tiny.expected.safetensors";
    static Dinov2Vit vit;
    static AmesDetector detector;

    @BeforeAll
    static void load() throws IOException {
        Path vitFile = Fixtures.path(DIR + "dinov2_tiny.pth");
        Map<String, Tensor> sd = TorchCheckpoint.open(vitFile).stateDict();
        vit = Dinov2Vit.fromStateDict(sd, VitConfig.infer(sd, vitFile, 4), vitFile);
        Path detFile = Fixtures.path(DIR + "detector_tiny.pt");
        detector = AmesDetector.fromStateDict(TorchCheckpoint.open(detFile).stateDict(), detFile);
    }

    @ParameterizedTest
    @ValueSource(strings = {"wide_png_query", "tall_png_query"})
    void imageToDescriptorsMatchesReference(String c) throws IOException {
        ImagePreprocessor.Prepared p = ImagePreprocessorTest.prepareCase(c);
        Dinov2Vit.Output v = vit.forward(p.tensor());
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "vit/" + c + "/cls").toINDArray(), v.cls(), 1e-4, c + " cls");
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "vit/" + c + "/patch_tokens").toINDArray(), v.patchTokens(), 1e-4,
                c + " patch tokens");
        DetectorOutput d = detector.detect(v.patchTokens());
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/weights").toFloatArray(), d.weights(), 1e-4,
                c + " weights");
        DetectorOutput.TopK top = d.topK(20);
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/topk_weights").toFloatArray(), top.weights(), 1e-4,
                c + " top-20 weights");
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/global").toFloatArray(), d.globalDescriptor(), 1e-4,
                c + " global");
        Fixtures.assertClose(Fixtures.tensor(EXPECTED, "det/" + c + "/cls_global").toFloatArray(),
                AmesDetector.clsGlobal(v.cls()), 1e-4, c + " cls_global");
    }
}
