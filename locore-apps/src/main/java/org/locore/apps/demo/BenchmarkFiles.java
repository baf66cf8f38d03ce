package org.locore.apps.demo;

import java.nio.file.Path;

/**
 * Where the synthetic benchmark of the demo lies under its output folder, in the layout and formats of the
 * released data, one folder per split:
 * <pre>
 * ROOT/train/  train.txt (path,landmark,width,height), synth_train_local.hdf5, synth_train_global.pt,
 *              nn_synth.pkl (every image a query against all the others, self removed)
 * ROOT/val/    query.txt, gallery.txt, synth_query_{local.hdf5,global.pt}, synth_gallery_{local.hdf5,global.pt},
 *              nn_synth.pkl, gnd_synth-val.pkl (GLDv2 style: {ok} per query, for alpha/temperature tuning)
 * ROOT/test/   query.txt, gallery.txt, synth_query_*, synth_gallery_*, synth_distractors_{local.hdf5,global.pt},
 *              nn_synth.pkl (against the gallery followed by the distractors, like +1M),
 *              gnd_synth-test.pkl (Revisited style: {bbx, easy, hard, junk} per query)
 * </pre>
 *
 * @param root the output folder ({@code --out} of the demo)
 */
public record BenchmarkFiles(Path root) {
    /** Descriptor name used in the file names ({@code <desc><split>_local.hdf5}, {@code nn_<desc>.pkl}). */
    public static final String DESC = "synth";

    /** The training split. */
    public Split train() {
        return new Split(root.resolve("train"), "train");
    }

    /** The validation split (GLDv2-style ground truth). */
    public Split val() {
        return new Split(root.resolve("val"), "val");
    }

    /** The test benchmark (Revisited-style ground truth, distractors). */
    public Split test() {
        return new Split(root.resolve("test"), "test");
    }

    /** The demo's report. */
    public Path report() {
        return root.resolve("report.json");
    }

    /**
     * The files of one split.
     *
     * @param dir  its folder
     * @param name {@code train}, {@code val} or {@code test}
     */
    public record Split(Path dir, String name) {
        /** Local features of a part ({@code train}, {@code query}, {@code gallery}, {@code distractors}). */
        public Path local(String part) {
            return dir.resolve(DESC + "_" + part + "_local.hdf5");
        }

        /** Global descriptors (headerless float32) of a part. */
        public Path global(String part) {
            return dir.resolve(DESC + "_" + part + "_global.pt");
        }

        /** Image list ({@code path,label,width,height}) of a part. */
        public Path imageList(String part) {
            return dir.resolve(part + ".txt");
        }

        /** The global shortlist of the split's queries. */
        public Path shortlist() {
            return dir.resolve("nn_" + DESC + ".pkl");
        }

        /** The ground truth (val and test only). */
        public Path groundTruth() {
            return dir.resolve("gnd_" + DESC + "-" + name + ".pkl");
        }
    }
}
