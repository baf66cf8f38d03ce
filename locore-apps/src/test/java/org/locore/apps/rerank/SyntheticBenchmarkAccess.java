package org.locore.apps.rerank;

import org.locore.data.groundtruth.GroundTruth;

import java.io.IOException;
import java.nio.file.Path;

/** Test access to {@link SyntheticBenchmark} from other packages. */
public final class SyntheticBenchmarkAccess {
    private final SyntheticBenchmark b;

    private SyntheticBenchmarkAccess(SyntheticBenchmark b) {
        this.b = b;
    }

    /** Writes the files into {@code dir}. */
    public static SyntheticBenchmarkAccess create(Path dir) throws IOException {
        return new SyntheticBenchmarkAccess(new SyntheticBenchmark(dir));
    }

    /** The input options of rerank/gridsearch (with the distractors the shortlist was built over). */
    public String[] inputOptions() {
        return b.inputOptions(true);
    }

    /** The ground truth. */
    public GroundTruth groundTruth() {
        return b.groundTruth;
    }

    /** The shortlist rankings (gallery ids). */
    public int[][] rankings() {
        int[][] r = new int[b.shortlist.numQueries()][];
        for (int q = 0; q < r.length; q++) r[q] = b.shortlist.ids(q);
        return r;
    }
}
