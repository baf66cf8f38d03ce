package org.locore.apps.rerank;

import org.locore.data.datavec.FeatureSet;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The inputs every re-ranking command reads (a picocli mixin): query and gallery local/global feature files,
 * optional distractor files appended to the gallery (+1M), the shortlist, the ground truth and the model.
 * {@link #open()} opens them; {@link Opened#close()} closes the feature files.
 */
public final class RerankInputs {
    @Option(names = "--query-local", required = true, paramLabel = "HDF5", description = "query local features")
    Path queryLocal;

    @Option(names = "--query-global", required = true, paramLabel = "PT", description = "query global descriptors (float32 [Nq, D])")
    Path queryGlobal;

    @Option(names = "--gallery-local", required = true, paramLabel = "HDF5", description = "gallery local features")
    Path galleryLocal;

    @Option(names = "--gallery-global", required = true, paramLabel = "PT", description = "gallery global descriptors")
    Path galleryGlobal;

    @Option(names = "--distractor-local", paramLabel = "HDF5",
            description = "local features of distractors appended to the gallery (+1M); needs --distractor-global")
    Path distractorLocal;

    @Option(names = "--distractor-global", paramLabel = "PT", description = "global descriptors of the distractors")
    Path distractorGlobal;

    @Option(names = "--shortlist", required = true, paramLabel = "nn.pkl", description = "the global shortlist (nn_<desc>.pkl)")
    Path shortlist;

    @Option(names = "--gnd", paramLabel = "GND.pkl", description = "ground truth (gnd_<dataset>.pkl)")
    Path gnd;

    @Option(names = "--config", required = true, paramLabel = "CONFIG.json",
            description = "HF Longformer config, or a JSON object whose 'config' key holds one")
    Path config;

    @Option(names = "--weights", required = true, paramLabel = "W.safetensors", description = "LOCORE model weights")
    Path weights;

    @Option(names = "--descriptors", paramLabel = "D",
            description = "local descriptors per image (default: the config's 'd', else 48)")
    Integer descriptors;

    @Option(names = "--layers", paramLabel = "N", description = "use only the first N encoder layers (LOCORE-small: 6)")
    Integer layers;

    @Option(names = "--no-query-global-attention", description = "only SEP tokens attend globally")
    boolean noQueryGlobalAttention;

    /** The ground-truth file, or null when none was given. */
    public Path groundTruthFile() {
        return gnd;
    }

    /** The opened inputs. */
    public record Opened(FeatureSet queries, FeatureSet gallery, Shortlist shortlist, GroundTruth groundTruth,
                         LocoreConfig config, LocoreModel model, List<AutoCloseable> files) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            for (AutoCloseable c : files) c.close();
        }
    }

    /** Opens the feature files, reads the shortlist and ground truth and loads the model. */
    public Opened open() throws IOException {
        if ((distractorLocal == null) != (distractorGlobal == null)) {
            throw new IllegalArgumentException("--distractor-local and --distractor-global go together");
        }
        List<AutoCloseable> files = new ArrayList<>();
        try {
            FeatureSet q = set(queryLocal, queryGlobal, files);
            FeatureSet g = set(galleryLocal, galleryGlobal, files);
            if (distractorLocal != null) g = g.followedBy(set(distractorLocal, distractorGlobal, files));
            Shortlist s = ShortlistFile.read(shortlist, g.size());
            GroundTruth gt = gnd == null ? null : GroundTruth.read(gnd);
            LocoreConfig c = LocoreConfig.read(config);
            int d = descriptors != null ? descriptors : c.descriptors();
            c = new LocoreConfig(c.longformer(), d, c.gallerySize(), !noQueryGlobalAttention,
                    layers == null ? c.layersKept() : layers);
            LocoreModel m = LocoreModel.load(weights, c);
            return new Opened(q, g, s, gt, c, m, files);
        } catch (IOException | RuntimeException e) {
            for (AutoCloseable c : files) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // already failing
                }
            }
            throw e;
        }
    }

    private static FeatureSet set(Path local, Path global, List<AutoCloseable> files) throws IOException {
        LocalFeatures l = LocalFeatures.open(local);
        files.add(l);
        GlobalDescriptors g = GlobalDescriptors.open(global, l.descriptorDim());
        files.add(g);
        return new FeatureSet(l, g);
    }
}
