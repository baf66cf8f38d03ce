package org.locore.apps.gridsearch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.apps.CommandRunner;
import org.locore.apps.rerank.ModelScorer;
import org.locore.apps.rerank.SlidingReranker;
import org.locore.apps.rerank.SyntheticBenchmarkAccess;
import org.locore.apps.rerank.WindowOrder;
import org.locore.data.datavec.FeatureSet;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.groundtruth.Protocol;
import org.locore.model.io.Safetensors;
import org.locore.model.locore.Fusion;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreModel;
import org.locore.model.locore.ScoreMode;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Grid search: the logit cache, the table, the heatmap and the command end to end. */
class GridSearchTest {
    @TempDir
    Path tmp;

    @Test
    void cachedLogitsGiveTheSameFusedRankingAsDirectScoring() throws Exception {
        LocoreModel model = LocoreModel.load(Fixtures.path("locore/locore_tiny_a.weights.safetensors"),
                LocoreConfig.read(Fixtures.path("locore/locore_tiny_a.json")));
        ModelScorer scorer = new ModelScorer(model, ScoreMode.MAX_END);
        double[] sims;
        try (Safetensors st = Safetensors.open(Fixtures.path("locore/sliding_tiny_a.inputs.safetensors"))) {
            INDArray ql = st.get("query_local").toINDArray(DataType.FLOAT);
            INDArray gl = st.get("gallery_local").toINDArray(DataType.FLOAT);
            long d = ql.size(1);
            long n = gl.size(0);
            scorer.put(0, new FeatureSet.Blocks(ql, Nd4j.zeros(DataType.LONG, 1, d), Nd4j.zeros(DataType.LONG, 1, d),
                            st.get("query_global").toINDArray(DataType.FLOAT)),
                    new FeatureSet.Blocks(gl, Nd4j.zeros(DataType.LONG, n, d), Nd4j.zeros(DataType.LONG, n, d),
                            st.get("gallery_global").toINDArray(DataType.FLOAT)));
            float[] s = st.get("global_sims").toFloatArray();
            sims = IntStream.range(0, s.length).mapToDouble(i -> s[i]).toArray();
        }
        int k = 7;
        int[] ranking = IntStream.range(0, sims.length).map(i -> 500 + i).toArray();
        int[] positions = IntStream.range(0, k).toArray();
        LogitCache cache = new LogitCache(1);
        cache.put(0, ranking, sims, scorer.score(List.of(new SlidingReranker.Window(0, positions)))[0]);
        for (double[] at : new double[][]{{0.5, 0.7}, {0.0, 1.0}, {0.9, 0.2}}) {
            Fusion f = new Fusion(at[0], at[1]);
            SlidingReranker direct = new SlidingReranker(k, k, k, WindowOrder.END_TO_START, f, 1);
            int[] expected = direct.rerank(new SlidingReranker.Query(0, ranking, sims), scorer).ranking();
            assertArrayEquals(expected, cache.fusedRanking(0, f), Arrays.toString(at));
        }
        // alpha 1: similarity only, the shortlist order is kept
        assertArrayEquals(ranking, cache.fusedRanking(0, new Fusion(1, 0.5)));
    }

    @Test
    void bestIsTheArgmaxOfTheTable() {
        Random rnd = new Random(2);
        double[] grid = GridResult.unitGrid(11);
        assertEquals(0.3, grid[3], 0);
        assertEquals(1.0, grid[10], 0);
        for (int trial = 0; trial < 20; trial++) {
            double[][] v = new double[11][11];
            for (double[] row : v) for (int j = 0; j < 11; j++) row[j] = rnd.nextInt(50) / 50.0;
            v[rnd.nextInt(11)][rnd.nextInt(11)] = Double.NaN;
            GridResult g = new GridResult("m", grid, grid, v);
            int[] best = g.best();
            double max = Arrays.stream(v).flatMapToDouble(Arrays::stream).filter(x -> !Double.isNaN(x)).max().orElseThrow();
            assertEquals(max, v[best[0]][best[1]]);
            // the first maximum in row-major order
            int first = IntStream.range(0, 121).filter(i -> v[i / 11][i % 11] == max).findFirst().orElseThrow();
            assertArrayEquals(new int[]{first / 11, first % 11}, best);
        }
    }

    @Test
    void gldv2GridUsesTheChosenSplitOfTheFusedRankings() {
        // 752 queries (2 public), 6 gallery images; the model prefers the last image of the shortlist, which is
        // the positive of the public queries; the private queries' positive is the shortlist's first
        int nq = 752;
        java.util.List<org.locore.data.groundtruth.GroundTruth.Query> qs = new java.util.ArrayList<>();
        java.util.List<String> names = new java.util.ArrayList<>();
        LogitCache cache = new LogitCache(nq);
        for (int q = 0; q < nq; q++) {
            qs.add(new org.locore.data.groundtruth.GroundTruth.Query(null, new int[0], new int[0], new int[0],
                    new int[]{q < 2 ? 5 : 0}));
            names.add("q" + q);
            cache.put(q, new int[]{0, 1, 2, 3, 4, 5}, new double[]{0.9, 0.8, 0.7, 0.6, 0.5, 0.4},
                    new float[]{-5, -5, -5, -5, -5, 5});
        }
        org.locore.data.groundtruth.GroundTruth gnd = new org.locore.data.groundtruth.GroundTruth(
                java.util.List.of("a", "b", "c", "d", "e", "f"), names, qs);
        double[] grid = GridResult.unitGrid(11);
        GridResult pub = GridSearch.evaluate(cache, gnd, null, "public", "gldv2", grid);
        GridResult priv = GridSearch.evaluate(cache, gnd, null, "private", "gldv2", grid);
        org.locore.data.eval.Gldv2Evaluator ev = new org.locore.data.eval.Gldv2Evaluator(gnd);
        for (int i = 0; i < 11; i += 5) {
            for (int j = 0; j < 11; j += 5) {
                var res = ev.evaluate(cache.fusedRankings(new Fusion(grid[i], grid[j])));
                assertEquals(res.publicMap(), pub.values()[i][j], 0);
                assertEquals(res.privateMap(), priv.values()[i][j], 0);
            }
        }
        assertEquals(1.0 / 6, pub.values()[10][5], 1e-12); // alpha 1: shortlist order, the positive at rank 6
        assertEquals(1.0, pub.values()[0][10], 1e-12); // alpha 0: the model's order, the positive first
        assertEquals(1.0, pub.values()[pub.best()[0]][pub.best()[1]], 1e-12);
        assertEquals(1.0, priv.values()[10][5], 1e-12);
        assertEquals(0.5, priv.values()[0][10], 1e-12); // the positive second behind the model's favourite
    }

    @Test
    void heatmapIsAPngOfTheExpectedSize() throws Exception {
        double[] grid = GridResult.unitGrid(11);
        double[][] v = new double[11][11];
        for (int i = 0; i < 11; i++) for (int j = 0; j < 11; j++) v[i][j] = (i * 11 + j) / 121.0;
        Path png = tmp.resolve("heatmap.png");
        Heatmap.write(png, new GridResult("test", grid, grid, v));
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head);
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img);
        assertEquals(Heatmap.width(11), img.getWidth());
        assertEquals(Heatmap.height(11), img.getHeight());
        // the lowest cell is dark, the highest bright
        int lo = img.getRGB(Heatmap.LEFT + 2, Heatmap.TOP + 2);
        int hi = img.getRGB(Heatmap.LEFT + 10 * Heatmap.CELL + 3, Heatmap.TOP + 10 * Heatmap.CELL + 3);
        assertTrue(brightness(hi) > brightness(lo) + 200, brightness(lo) + " vs " + brightness(hi));
    }

    private static int brightness(int rgb) {
        return ((rgb >> 16) & 0xff) + ((rgb >> 8) & 0xff) + (rgb & 0xff);
    }

    @Test
    void commandWritesTableHeatmapAndBestPair() throws Exception {
        SyntheticBenchmarkAccess b = SyntheticBenchmarkAccess.create(tmp);
        Path out = tmp.resolve("grid");
        String[] opts = b.inputOptions();
        String[] more = {"--top", "7", "--metric", "medium", "--batch", "35", "--out", out.toString()};
        String[] args = new String[1 + opts.length + more.length];
        args[0] = "gridsearch";
        System.arraycopy(opts, 0, args, 1, opts.length);
        System.arraycopy(more, 0, args, 1 + opts.length, more.length);
        CommandRunner.Run r = CommandRunner.run(args);
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out.resolve("gridsearch.csv"));
        assertEquals("alpha,temp,medium-map", lines.get(0));
        assertEquals(122, lines.size());
        double[][] v = new double[11][11];
        double bestV = -1;
        double bestA = -1;
        double bestT = -1;
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).split(",");
            double a = Double.parseDouble(f[0]);
            double t = Double.parseDouble(f[1]);
            double m = Double.parseDouble(f[2]);
            v[(int) Math.round(a * 10)][(int) Math.round(t * 10)] = m;
            if (m > bestV) {
                bestV = m;
                bestA = a;
                bestT = t;
            }
        }
        JsonNode best = new ObjectMapper().readTree(out.resolve("best.json").toFile());
        assertEquals(bestA, best.get("alpha").asDouble(), 0);
        assertEquals(bestT, best.get("temp").asDouble(), 0);
        assertEquals(bestV, best.get("value").asDouble(), 0);
        assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, "best: alpha %.2f, temp %.2f", bestA, bestT)), r.out());
        // alpha 1 ignores the model: every temperature gives the Medium mAP of the shortlist itself
        double shortlistMap = new RevisitedEvaluator(b.groundTruth()).evaluate(b.rankings(), Protocol.MEDIUM).map();
        for (int j = 0; j < 11; j++) assertEquals(shortlistMap, v[10][j], 1e-12);
        // alpha 0, temperature 0: every fused score is 0.5, the stable sort keeps the shortlist order
        assertEquals(shortlistMap, v[0][0], 1e-12);
        BufferedImage img = ImageIO.read(out.resolve("heatmap.png").toFile());
        assertEquals(Heatmap.width(11), img.getWidth());
        assertEquals(Heatmap.height(11), img.getHeight());
        assertTrue(Files.readString(out.resolve("gridsearch.md")).contains("| alpha \\ temp |"));
        // GLDv2 mAP needs a GLDv2 ground truth
        args[args.length - 5] = "gldv2";
        CommandRunner.Run bad = CommandRunner.run(args);
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--metric gldv2 needs a GLDv2 ground truth"), bad.err());
    }
}
