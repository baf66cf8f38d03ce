package org.locore.apps.train;

import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeaturesWriter;
import org.locore.data.groundtruth.ImageList;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A tiny training set in the real file formats for the tiny LOCORE config ({@code locore/locore_tiny_a.json},
 * width 32): {@value #IMAGES} images of {@value #LANDMARKS} landmarks, {@value #ROWS} local descriptors each (the
 * last one padding), global descriptors, an image list and a shortlist of {@value #NEIGHBOURS} neighbours per image
 * (itself first, then the nearest by global similarity). Use with {@code --descriptors 5 --gallery 7}.
 */
final class SyntheticTrainingSet {
    static final int IMAGES = 12;
    static final int LANDMARKS = 4;
    static final int ROWS = 6;
    static final int DIM = 32;
    static final int NEIGHBOURS = 8;

    final Path locals;
    final Path globals;
    final Path list;
    final Path shortlist;
    final Path config;

    private SyntheticTrainingSet(Path dir) {
        locals = dir.resolve("train_local.hdf5");
        globals = dir.resolve("train_global.pt");
        list = dir.resolve("train.txt");
        shortlist = dir.resolve("nn_train.pkl");
        config = Fixtures.path("locore/locore_tiny_a.json");
    }

    static SyntheticTrainingSet write(Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        SyntheticTrainingSet s = new SyntheticTrainingSet(dir);
        Random rnd = new Random(seed);
        float[][] centres = new float[LANDMARKS][DIM];
        for (float[] c : centres) for (int j = 0; j < DIM; j++) c[j] = (float) rnd.nextGaussian();
        float[] rows = new float[IMAGES * ROWS * (5 + DIM)];
        float[] glob = new float[IMAGES * DIM];
        List<ImageList.Entry> entries = new ArrayList<>();
        for (int i = 0; i < IMAGES; i++) {
            int lm = i % LANDMARKS;
            entries.add(new ImageList.Entry("img/" + i + ".jpg", "landmark" + lm, 640, 480));
            double norm = 0;
            for (int j = 0; j < DIM; j++) {
                float v = centres[lm][j] + 0.8f * (float) rnd.nextGaussian();
                glob[i * DIM + j] = v;
                norm += v * v;
            }
            for (int j = 0; j < DIM; j++) glob[i * DIM + j] /= (float) Math.sqrt(norm);
            for (int r = 0; r < ROWS; r++) {
                int o = (i * ROWS + r) * (5 + DIM);
                rows[o] = rnd.nextFloat();
                rows[o + 1] = rnd.nextFloat();
                rows[o + 2] = r % 3;
                rows[o + 3] = r == ROWS - 1 ? 1 : 0;
                rows[o + 4] = 1f - r * 0.1f;
                for (int j = 0; j < DIM; j++) rows[o + 5 + j] = 0.5f * centres[lm][j] + (float) rnd.nextGaussian();
            }
        }
        LocalFeaturesWriter.write(s.locals, rows, IMAGES, ROWS, DIM, LocalFeaturesWriter.Storage.CONTIGUOUS);
        GlobalDescriptors.write(s.globals, glob, DIM);
        new ImageList(entries).write(s.list);
        double[][] sims = new double[IMAGES][NEIGHBOURS];
        int[][] ids = new int[IMAGES][NEIGHBOURS];
        for (int q = 0; q < IMAGES; q++) {
            Integer[] order = new Integer[IMAGES];
            double[] sim = new double[IMAGES];
            for (int g = 0; g < IMAGES; g++) {
                order[g] = g;
                for (int j = 0; j < DIM; j++) sim[g] += glob[q * DIM + j] * glob[g * DIM + j];
            }
            java.util.Arrays.sort(order, (a, b) -> Double.compare(sim[b], sim[a]));
            for (int j = 0; j < NEIGHBOURS; j++) {
                ids[q][j] = order[j];
                sims[q][j] = sim[order[j]];
            }
        }
        ShortlistFile.write(s.shortlist, Shortlist.of(sims, ids));
        return s;
    }

    /** The command-line data options. */
    List<String> dataArgs() {
        return List.of("--locals", locals.toString(), "--globals", globals.toString(), "--list", list.toString(),
                "--shortlist", shortlist.toString(), "--config", config.toString(), "--descriptors", "5",
                "--gallery", "7");
    }
}
