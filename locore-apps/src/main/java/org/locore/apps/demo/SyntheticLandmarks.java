package org.locore.apps.demo;

import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeaturesWriter;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.ImageList;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistBuilder;
import org.locore.data.shortlist.ShortlistFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A seeded synthetic instance-retrieval benchmark written in the real file formats (see {@link BenchmarkFiles}):
 * a training split, a validation split and a Revisited-style test benchmark with distractors, built so that
 * matching local descriptors beats the global descriptor by a clear margin.
 *
 * <p><b>Generative model.</b> Descriptors are unit vectors of dimension {@link Config#dim()}. Every image has
 * {@link Config#rows()} rows (some images fewer valid rows, the rest padding with mask 1), each row one of:
 * <ul>
 *   <li><i>landmark</i> rows: a landmark is a set of {@link Config#prototypes()} random prototype descriptors; an
 *       image of it shows a random subset of them (occlusion), each with Gaussian noise
 *       ({@link Config#noise()}), so two views of one prototype agree to a cosine of about
 *       {@code 1 / (1 + noise^2)};</li>
 *   <li><i>clutter</i> rows: every image is taken in one of {@link Config#scenes()} scenes; a clutter descriptor
 *       is {@code normalise(clutter * sceneCentre + noise vector)}. Clutter patches never repeat (two of them agree
 *       to a cosine of about {@code c^2 / (1 + c^2)} only), but their mean is the scene centre, so images of
 *       different landmarks in the same scene get similar global descriptors: the hard negatives;</li>
 *   <li><i>confuser</i> rows: a pool of {@link Config#confusers()} prototypes shared by every landmark (repeated
 *       structures such as windows), seen under noise: they match exactly across unrelated images.</li>
 * </ul>
 * Detector weights favour structure: landmark and confuser rows weigh 0.5 to 1, clutter rows 0.15 to 0.65.
 * The global descriptor is the L2-normalised weighted mean of the valid rows (as AMES computes it from the
 * detector weights); rows are stored in descending weight order. How many landmark rows an image shows sets its
 * difficulty: queries (crops of the landmark) and easy positives show many, hard positives few (their global
 * descriptor is dominated by their scene), junk images one or two.
 *
 * <p><b>Splits.</b> Training, validation and test use disjoint landmarks. Training: images of labelled landmarks
 * with a mix of difficulties; its shortlist lists every image's global neighbours with itself removed.
 * Validation: queries and a gallery (its landmarks' images plus background images of other landmarks) with a
 * GLDv2-style ground truth ({@code ok}). Test: queries, a gallery of easy / hard / junk images per landmark plus
 * background images, a distractor set appended after the gallery (like +1M), a shortlist against gallery and
 * distractors and a Revisited-style ground truth. Everything depends on the seed only.
 */
public final class SyntheticLandmarks {
    private static final Logger LOG = LoggerFactory.getLogger(SyntheticLandmarks.class);
    private static final int WIDTH = 640;
    private static final int HEIGHT = 480;

    /**
     * Sizes and difficulty of the benchmark.
     *
     * @param seed                   random seed (everything depends on it only)
     * @param dim                    descriptor dimension
     * @param rows                   rows (local descriptors) per image
     * @param prototypes             prototype descriptors per landmark
     * @param scenes                 number of scenes (clutter centres)
     * @param confusers              prototypes shared by all landmarks
     * @param trainLandmarks         landmarks of the training split
     * @param trainImagesPerLandmark training images per landmark
     * @param valLandmarks           landmarks with queries in the validation split
     * @param testLandmarks          landmarks with queries in the test split
     * @param queriesPerLandmark     queries per landmark (validation and test)
     * @param easyPerLandmark        easy gallery images per landmark (validation: easy + hard are all positives)
     * @param hardPerLandmark        hard gallery images per landmark
     * @param junkPerLandmark        junk gallery images per landmark (test only)
     * @param background             gallery images of landmarks without queries (validation and test)
     * @param distractors            distractor images appended after the test gallery
     * @param shortlistLength        shortlist length of validation and test queries
     * @param trainShortlistLength   shortlist length of training images
     * @param noise                  noise of landmark and confuser rows (relative to a unit prototype)
     * @param clutter                weight of the scene centre in clutter rows (0: no scene structure)
     */
    public record Config(long seed, int dim, int rows, int prototypes, int scenes, int confusers,
                         int trainLandmarks, int trainImagesPerLandmark, int valLandmarks, int testLandmarks,
                         int queriesPerLandmark, int easyPerLandmark, int hardPerLandmark, int junkPerLandmark,
                         int background, int distractors, int shortlistLength, int trainShortlistLength,
                         double noise, double clutter) {
        /** Checks the sizes. */
        public Config {
            positive("dim", dim);
            positive("rows", rows);
            positive("prototypes", prototypes);
            positive("scenes", scenes);
            nonNegative("confusers", confusers);
            positive("trainLandmarks", trainLandmarks);
            if (trainImagesPerLandmark < 2) {
                throw new IllegalArgumentException("trainImagesPerLandmark must be >= 2, got "
                        + trainImagesPerLandmark);
            }
            positive("valLandmarks", valLandmarks);
            positive("testLandmarks", testLandmarks);
            positive("queriesPerLandmark", queriesPerLandmark);
            nonNegative("easyPerLandmark", easyPerLandmark);
            nonNegative("hardPerLandmark", hardPerLandmark);
            nonNegative("junkPerLandmark", junkPerLandmark);
            if (easyPerLandmark + hardPerLandmark == 0) {
                throw new IllegalArgumentException("each landmark needs at least one easy or hard gallery image");
            }
            nonNegative("background", background);
            nonNegative("distractors", distractors);
            positive("shortlistLength", shortlistLength);
            positive("trainShortlistLength", trainShortlistLength);
            if (!(noise >= 0) || !(clutter >= 0)) {
                throw new IllegalArgumentException("noise and clutter must be >= 0, got " + noise + ", " + clutter);
            }
            if (rows < 8) {
                throw new IllegalArgumentException("rows must be >= 8 (a query shows about half of them), got " + rows);
            }
        }

        private static void positive(String what, int v) {
            if (v < 1) throw new IllegalArgumentException(what + " must be >= 1, got " + v);
        }

        private static void nonNegative(String what, int v) {
            if (v < 0) throw new IllegalArgumentException(what + " must be >= 0, got " + v);
        }

        /** The demo's defaults: 1,200 training images (150 landmarks), 48 test queries against 312 gallery images + 400 distractors. */
        public static Config defaults() {
            return new Config(42, 64, 32, 12, 6, 12, 150, 8, 12, 16, 3, 4, 6, 2, 120, 400, 200, 100, 0.35, 0.15);
        }

        /** A small configuration for tests (generated in well under a second). */
        public static Config small() {
            return new Config(7, 64, 32, 12, 6, 12, 150, 8, 6, 10, 2, 3, 4, 2, 40, 60, 100, 30, 0.35, 0.15);
        }

        /** This configuration with another seed. */
        public Config withSeed(long s) {
            return new Config(s, dim, rows, prototypes, scenes, confusers, trainLandmarks, trainImagesPerLandmark,
                    valLandmarks, testLandmarks, queriesPerLandmark, easyPerLandmark, hardPerLandmark, junkPerLandmark,
                    background, distractors, shortlistLength, trainShortlistLength, noise, clutter);
        }

        /** Gallery images of the test split (landmark images followed by background images). */
        public int testGallerySize() {
            return testLandmarks * (easyPerLandmark + hardPerLandmark + junkPerLandmark) + background;
        }
    }

    /** How much of a landmark an image shows (numbers of landmark rows drawn from {@code [min, max]}). */
    enum View {
        QUERY(0.50, 0.70), EASY(0.35, 0.55), HARD(0.10, 0.22), JUNK(0.02, 0.05), TRAIN(0.06, 0.55),
        BACKGROUND(0.0, 0.5);
        final double min;
        final double max;

        View(double min, double max) {
            this.min = min;
            this.max = max;
        }
    }

    /** Sizes of what was written. */
    public record Summary(int trainImages, int valQueries, int valGallery, int testQueries, int testGallery,
                          int distractors) {
        /** Total number of images generated. */
        public int totalImages() {
            return trainImages + valQueries + valGallery + testQueries + testGallery + distractors;
        }
    }

    private final Config config;
    private final Random random;
    private final float[][] sceneCentres;
    private final float[][] confuserPrototypes;

    /** A generator for a configuration (draws the scenes and confusers from its seed). */
    public SyntheticLandmarks(Config config) {
        this.config = config;
        this.random = new Random(config.seed());
        this.sceneCentres = new float[config.scenes()][];
        for (int s = 0; s < sceneCentres.length; s++) sceneCentres[s] = unit(gaussian(config.dim()));
        this.confuserPrototypes = new float[config.confusers()][];
        for (int c = 0; c < confuserPrototypes.length; c++) confuserPrototypes[c] = unit(gaussian(config.dim()));
    }

    /** The configuration. */
    public Config config() {
        return config;
    }

    /** Writes the three splits under {@code files.root()} (folders are created; existing files are replaced). */
    public Summary generate(BenchmarkFiles files) throws IOException {
        int trainImages = writeTrain(files.train());
        int[] val = writeVal(files.val());
        int[] test = writeTest(files.test());
        Summary s = new Summary(trainImages, val[0], val[1], test[0], test[1], test[2]);
        LOG.info("synthetic benchmark in {}: {} training images, validation {} queries x {} images, test {} queries x "
                + "{} images + {} distractors", files.root(), s.trainImages(), s.valQueries(), s.valGallery(),
                s.testQueries(), s.testGallery(), s.distractors());
        return s;
    }

    // ---- splits ----

    private int writeTrain(BenchmarkFiles.Split split) throws IOException {
        Files.createDirectories(split.dir());
        int n = config.trainLandmarks() * config.trainImagesPerLandmark();
        Images images = new Images(n);
        List<ImageList.Entry> list = new ArrayList<>(n);
        for (int l = 0; l < config.trainLandmarks(); l++) {
            float[][] landmark = landmark();
            String label = String.format("%05d", l);
            for (int i = 0; i < config.trainImagesPerLandmark(); i++) {
                // the first image of each landmark is an easy view so that every label has a recognisable member
                images.add(image(landmark, i == 0 ? View.EASY : View.TRAIN));
                list.add(new ImageList.Entry("train/" + label + "/" + String.format("%06d", images.count - 1) + ".jpg",
                        label, WIDTH, HEIGHT));
            }
        }
        images.write(split.local("train"), split.global("train"));
        new ImageList(list).write(split.imageList("train"));
        Shortlist nn = new ShortlistBuilder(config.trainShortlistLength()).withExcludeSelf(true)
                .build(images.globals, n, images.globals, n, config.dim());
        ShortlistFile.write(split.shortlist(), nn);
        return n;
    }

    /** Validation: GLDv2-style ground truth (positives = easy and hard images of the query's landmark). */
    private int[] writeVal(BenchmarkFiles.Split split) throws IOException {
        Files.createDirectories(split.dir());
        int perLandmark = config.easyPerLandmark() + config.hardPerLandmark();
        int nq = config.valLandmarks() * config.queriesPerLandmark();
        int ng = config.valLandmarks() * perLandmark + config.background();
        Images queries = new Images(nq);
        Images gallery = new Images(ng);
        List<int[]> ok = new ArrayList<>();
        List<ImageList.Entry> qList = new ArrayList<>();
        List<ImageList.Entry> gList = new ArrayList<>();
        for (int l = 0; l < config.valLandmarks(); l++) {
            float[][] landmark = landmark();
            String label = "v" + l;
            int first = gallery.count;
            for (int i = 0; i < perLandmark; i++) {
                gallery.add(image(landmark, i < config.easyPerLandmark() ? View.EASY : View.HARD));
                gList.add(entry("gallery", gallery.count - 1, label));
            }
            int[] positives = java.util.stream.IntStream.range(first, gallery.count).toArray();
            for (int q = 0; q < config.queriesPerLandmark(); q++) {
                queries.add(image(landmark, View.QUERY));
                qList.add(entry("query", queries.count - 1, label));
                ok.add(positives);
            }
        }
        addBackground(gallery, gList, config.background(), "gallery");
        queries.write(split.local("query"), split.global("query"));
        gallery.write(split.local("gallery"), split.global("gallery"));
        new ImageList(qList).write(split.imageList("query"));
        new ImageList(gList).write(split.imageList("gallery"));
        List<GroundTruth.Query> gnd = new ArrayList<>();
        for (int[] p : ok) gnd.add(new GroundTruth.Query(null, new int[0], new int[0], new int[0], p));
        new GroundTruth(names(gList), names(qList), gnd).write(split.groundTruth());
        ShortlistFile.write(split.shortlist(), new ShortlistBuilder(config.shortlistLength())
                .build(queries.globals, nq, gallery.globals, ng, config.dim()));
        return new int[]{nq, ng};
    }

    /** Test: Revisited-style ground truth; the shortlist runs against the gallery followed by the distractors. */
    private int[] writeTest(BenchmarkFiles.Split split) throws IOException {
        Files.createDirectories(split.dir());
        int nq = config.testLandmarks() * config.queriesPerLandmark();
        int ng = config.testGallerySize();
        Images queries = new Images(nq);
        Images gallery = new Images(ng);
        List<GroundTruth.Query> gnd = new ArrayList<>();
        List<ImageList.Entry> qList = new ArrayList<>();
        List<ImageList.Entry> gList = new ArrayList<>();
        for (int l = 0; l < config.testLandmarks(); l++) {
            float[][] landmark = landmark();
            String label = "t" + l;
            int[] easy = addViews(gallery, gList, landmark, View.EASY, config.easyPerLandmark(), label);
            int[] hard = addViews(gallery, gList, landmark, View.HARD, config.hardPerLandmark(), label);
            int[] junk = addViews(gallery, gList, landmark, View.JUNK, config.junkPerLandmark(), label);
            for (int q = 0; q < config.queriesPerLandmark(); q++) {
                queries.add(image(landmark, View.QUERY));
                qList.add(entry("query", queries.count - 1, label));
                double x1 = 40 + random.nextInt(160);
                double y1 = 30 + random.nextInt(120);
                double[] bbx = {x1, y1, x1 + 200 + random.nextInt(WIDTH - 260 - (int) x1 + 1),
                        y1 + 150 + random.nextInt(HEIGHT - 200 - (int) y1 + 1)};
                gnd.add(new GroundTruth.Query(bbx, easy, hard, junk, new int[0]));
            }
        }
        addBackground(gallery, gList, config.background(), "gallery");
        Images distractors = new Images(config.distractors());
        addBackground(distractors, new ArrayList<>(), config.distractors(), "distractors");
        queries.write(split.local("query"), split.global("query"));
        gallery.write(split.local("gallery"), split.global("gallery"));
        distractors.write(split.local("distractors"), split.global("distractors"));
        new ImageList(qList).write(split.imageList("query"));
        new ImageList(gList).write(split.imageList("gallery"));
        new GroundTruth(names(gList), names(qList), gnd).write(split.groundTruth());
        float[] all = Arrays.copyOf(gallery.globals, (ng + config.distractors()) * config.dim());
        System.arraycopy(distractors.globals, 0, all, ng * config.dim(), config.distractors() * config.dim());
        ShortlistFile.write(split.shortlist(), new ShortlistBuilder(config.shortlistLength())
                .build(queries.globals, nq, all, ng + config.distractors(), config.dim()));
        return new int[]{nq, ng, config.distractors()};
    }

    private int[] addViews(Images gallery, List<ImageList.Entry> list, float[][] landmark, View view, int count,
                           String label) {
        int[] ids = new int[count];
        for (int i = 0; i < count; i++) {
            ids[i] = gallery.count;
            gallery.add(image(landmark, view));
            list.add(entry("gallery", gallery.count - 1, label));
        }
        return ids;
    }

    /** Images of landmarks that have no query: partial views of their own prototypes, in random scenes. */
    private void addBackground(Images images, List<ImageList.Entry> list, int count, String part) {
        for (int i = 0; i < count; i++) {
            images.add(image(landmark(), View.BACKGROUND));
            list.add(entry(part, images.count - 1, "background"));
        }
    }

    private static ImageList.Entry entry(String part, int index, String label) {
        return new ImageList.Entry(part + "/" + String.format("%06d", index) + ".jpg", label, WIDTH, HEIGHT);
    }

    private static List<String> names(List<ImageList.Entry> list) {
        return list.stream().map(e -> e.path().substring(0, e.path().length() - 4)).toList();
    }

    // ---- images ----

    private float[][] landmark() {
        float[][] p = new float[config.prototypes()][];
        for (int i = 0; i < p.length; i++) p[i] = unit(gaussian(config.dim()));
        return p;
    }

    /** One image's rows {@code [K, 5 + D]} (valid rows by descending weight, then padding) and its global. */
    record Image(float[] rows, float[] global) {
    }

    Image image(float[][] landmark, View view) {
        int k = config.rows();
        int d = config.dim();
        int valid = random.nextDouble() < 0.25 ? k - 1 - random.nextInt(Math.max(1, k / 4)) : k;
        double share = view.min + random.nextDouble() * (view.max - view.min);
        int nLandmark = Math.min(Math.min(landmark.length, valid), Math.max(view == View.BACKGROUND ? 0 : 1,
                (int) Math.round(share * k)));
        int nConfusers = confuserPrototypes.length == 0 ? 0 : Math.min(valid - nLandmark, random.nextInt(4));
        int scene = random.nextInt(sceneCentres.length);
        // landmark region of the image: its rows lie inside it, clutter anywhere
        float bx = random.nextFloat() * 0.5f;
        float by = random.nextFloat() * 0.5f;
        int[] shown = firstOfPermutation(landmark.length, nLandmark);
        float[][] desc = new float[valid][];
        float[] weight = new float[valid];
        float[][] yx = new float[valid][2];
        for (int r = 0; r < valid; r++) {
            if (r < nLandmark) {
                desc[r] = noisy(landmark[shown[r]]);
                yx[r][0] = by + 0.5f * random.nextFloat();
                yx[r][1] = bx + 0.5f * random.nextFloat();
            } else if (r < nLandmark + nConfusers) {
                desc[r] = noisy(confuserPrototypes[random.nextInt(confuserPrototypes.length)]);
                yx[r][0] = random.nextFloat();
                yx[r][1] = random.nextFloat();
            } else {
                float[] v = gaussian(d);
                float[] c = sceneCentres[scene];
                float scale = (float) (config.clutter() * Math.sqrt(d));
                for (int j = 0; j < d; j++) v[j] += scale * c[j];
                desc[r] = unit(v);
                yx[r][0] = random.nextFloat();
                yx[r][1] = random.nextFloat();
            }
            // the detector prefers structure: landmark and confuser rows weigh more than clutter
            boolean structure = r < nLandmark + nConfusers;
            weight[r] = structure ? 0.5f + 0.5f * random.nextFloat() : 0.15f + 0.5f * random.nextFloat();
        }
        Integer[] order = new Integer[valid];
        for (int r = 0; r < valid; r++) order[r] = r;
        Arrays.sort(order, (a, b) -> Float.compare(weight[b], weight[a]));
        int w = 5 + d;
        float[] rows = new float[k * w];
        float[] global = new float[d];
        for (int i = 0; i < valid; i++) {
            int r = order[i];
            int p = i * w;
            rows[p] = yx[r][0];
            rows[p + 1] = yx[r][1];
            rows[p + 4] = weight[r];
            System.arraycopy(desc[r], 0, rows, p + 5, d);
            for (int j = 0; j < d; j++) global[j] += weight[r] * desc[r][j];
        }
        for (int i = valid; i < k; i++) rows[i * w + 3] = 1f; // padding: zeros, mask 1
        return new Image(rows, unit(global));
    }

    private int[] firstOfPermutation(int n, int m) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = 0; i < m; i++) {
            int j = i + random.nextInt(n - i);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return Arrays.copyOf(p, m);
    }

    /** {@code normalise(p + noise * g / sqrt(D))} with {@code g} standard Gaussian. */
    private float[] noisy(float[] prototype) {
        int d = prototype.length;
        float[] v = gaussian(d);
        float s = (float) (config.noise() / Math.sqrt(d));
        for (int j = 0; j < d; j++) v[j] = prototype[j] + s * v[j];
        return unit(v);
    }

    private float[] gaussian(int d) {
        float[] v = new float[d];
        for (int j = 0; j < d; j++) v[j] = (float) random.nextGaussian();
        return v;
    }

    private static float[] unit(float[] v) {
        double n = 0;
        for (float x : v) n += (double) x * x;
        float inv = (float) (1.0 / Math.max(Math.sqrt(n), 1e-12));
        for (int j = 0; j < v.length; j++) v[j] *= inv;
        return v;
    }

    /** Images collected in memory (the demo sizes are small) and written in one go. */
    private final class Images {
        final float[] rows;
        final float[] globals;
        int count;

        Images(int capacity) {
            rows = new float[capacity * config.rows() * (5 + config.dim())];
            globals = new float[capacity * config.dim()];
        }

        void add(Image image) {
            System.arraycopy(image.rows(), 0, rows, count * image.rows().length, image.rows().length);
            System.arraycopy(image.global(), 0, globals, count * config.dim(), config.dim());
            count++;
        }

        void write(Path local, Path global) throws IOException {
            if (count * config.rows() * (5 + config.dim()) != rows.length) {
                throw new IllegalStateException(local + ": " + count + " images generated, " + rows.length
                        / (config.rows() * (5 + config.dim())) + " expected");
            }
            LocalFeaturesWriter.write(local, rows, count, config.rows(), config.dim(),
                    LocalFeaturesWriter.Storage.CONTIGUOUS);
            GlobalDescriptors.write(global, globals, config.dim());
        }
    }
}
