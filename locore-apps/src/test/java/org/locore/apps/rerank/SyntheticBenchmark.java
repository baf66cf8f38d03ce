package org.locore.apps.rerank;

import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeaturesWriter;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistBuilder;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

/**
 * Test files around the real ROxford ground truth (70 queries, 4,993 images): random local features
 * ({@value #ROWS} rows of width {@value #E}, the {@code locore_tiny_a} model's width) and global descriptors for
 * the queries, the gallery and {@value #DISTRACTORS} distractors, and an exact shortlist of the top
 * {@value #M} over gallery + distractors. Each query's positives get globals close to the query's, so the
 * shortlist holds some of them.
 */
final class SyntheticBenchmark {
    static final int ROWS = 5;
    static final int E = 32;
    static final int DISTRACTORS = 40;
    static final int M = 20;

    final Path gnd;
    final GroundTruth groundTruth;
    final Path queryLocal;
    final Path queryGlobal;
    final Path galleryLocal;
    final Path galleryGlobal;
    final Path distractorLocal;
    final Path distractorGlobal;
    final Path shortlistFile;
    final Shortlist shortlist;

    SyntheticBenchmark(Path dir) throws IOException {
        gnd = Fixtures.path("revisitop/gnd_roxford5k.pkl");
        groundTruth = GroundTruth.read(gnd);
        Random rnd = new Random(5);
        int nq = groundTruth.numQueries();
        int ng = groundTruth.numImages();
        float[] qg = normalRows(rnd, nq);
        float[] gg = normalRows(rnd, ng);
        for (int q = 0; q < nq; q++) {
            GroundTruth.Query g = groundTruth.queries().get(q);
            int[][] lists = {g.easy(), g.hard()};
            for (int[] list : lists) {
                for (int i = 0; i < list.length; i += 3) {
                    for (int k = 0; k < E; k++) gg[list[i] * E + k] = qg[q * E + k] + 0.3f * (float) rnd.nextGaussian() / (float) Math.sqrt(E);
                }
            }
        }
        float[] dg = normalRows(rnd, DISTRACTORS);
        queryLocal = local(dir.resolve("q_local.hdf5"), rnd, nq);
        galleryLocal = local(dir.resolve("g_local.hdf5"), rnd, ng);
        distractorLocal = local(dir.resolve("d_local.hdf5"), rnd, DISTRACTORS);
        queryGlobal = dir.resolve("q_global.pt");
        galleryGlobal = dir.resolve("g_global.pt");
        distractorGlobal = dir.resolve("d_global.pt");
        GlobalDescriptors.write(queryGlobal, qg, E);
        GlobalDescriptors.write(galleryGlobal, gg, E);
        GlobalDescriptors.write(distractorGlobal, dg, E);
        float[] all = new float[(ng + DISTRACTORS) * E];
        System.arraycopy(gg, 0, all, 0, gg.length);
        System.arraycopy(dg, 0, all, gg.length, dg.length);
        shortlist = new ShortlistBuilder(M).build(qg, nq, all, ng + DISTRACTORS, E);
        shortlistFile = dir.resolve("nn.pkl");
        ShortlistFile.write(shortlistFile, shortlist);
    }

    private static float[] normalRows(Random rnd, int n) {
        float[] a = new float[n * E];
        for (int i = 0; i < n; i++) {
            double norm = 0;
            for (int k = 0; k < E; k++) {
                a[i * E + k] = (float) rnd.nextGaussian();
                norm += a[i * E + k] * a[i * E + k];
            }
            for (int k = 0; k < E; k++) a[i * E + k] /= (float) Math.sqrt(norm);
        }
        return a;
    }

    private static Path local(Path file, Random rnd, int n) throws IOException {
        int w = 5 + E;
        float[] rows = new float[n * ROWS * w];
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < ROWS; r++) {
                int o = (i * ROWS + r) * w;
                rows[o] = rnd.nextFloat();
                rows[o + 1] = rnd.nextFloat();
                rows[o + 3] = r == ROWS - 1 && i % 4 == 0 ? 1 : 0; // some padding rows
                rows[o + 4] = rows[o + 3] == 1 ? 0 : 1 - 0.1f * r;
                for (int k = 0; k < E; k++) rows[o + 5 + k] = rows[o + 3] == 1 ? 0 : (float) rnd.nextGaussian();
                if (rows[o + 3] == 1) {
                    rows[o] = 0;
                    rows[o + 1] = 0;
                }
            }
        }
        LocalFeaturesWriter.write(file, rows, n, ROWS, E, LocalFeaturesWriter.Storage.CONTIGUOUS);
        return file;
    }

    /** The common options of rerank and gridsearch. */
    String[] inputOptions(boolean distractors) {
        String config = Fixtures.path("locore/locore_tiny_a.json").toString();
        String weights = Fixtures.path("locore/locore_tiny_a.weights.safetensors").toString();
        String[] base = {"--query-local", queryLocal.toString(), "--query-global", queryGlobal.toString(),
                "--gallery-local", galleryLocal.toString(), "--gallery-global", galleryGlobal.toString(),
                "--shortlist", shortlistFile.toString(), "--gnd", gnd.toString(), "--config", config,
                "--weights", weights};
        if (!distractors) return base;
        String[] out = java.util.Arrays.copyOf(base, base.length + 4);
        out[base.length] = "--distractor-local";
        out[base.length + 1] = distractorLocal.toString();
        out[base.length + 2] = "--distractor-global";
        out[base.length + 3] = distractorGlobal.toString();
        return out;
    }
}
