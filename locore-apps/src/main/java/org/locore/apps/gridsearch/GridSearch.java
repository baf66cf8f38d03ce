package org.locore.apps.gridsearch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.apps.Evaluate;
import org.locore.apps.Progress;
import org.locore.apps.rerank.ModelScorer;
import org.locore.apps.rerank.RerankInputs;
import org.locore.apps.rerank.SlidingReranker;
import org.locore.data.datavec.QueryIterator;
import org.locore.data.eval.Gldv2Evaluator;
import org.locore.data.eval.ProtocolResult;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.model.io.AtomicFiles;
import org.locore.model.locore.Fusion;
import org.locore.model.locore.ScoreMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;

/**
 * {@code locore gridsearch}: scores every validation query's top K once (one forward pass per query, cached),
 * then evaluates every (alpha, temperature) pair of the {0, 0.1, ..., 1}² grid from the cache: GLDv2 mAP@100 on
 * the public split (or {@code --split}) for a GLDv2 ground truth ({@code ok} lists), or a Revisited protocol's mAP (the shortlist
 * reordered for that protocol first). Writes {@code gridsearch.csv}, {@code gridsearch.md}, {@code heatmap.png}
 * and {@code best.json}; prints the best pair.
 */
@Command(name = "gridsearch", mixinStandardHelpOptions = true,
        description = {"Tunes the fusion: scores each query's top K once, then evaluates every (alpha, temp) in",
                "{0, 0.1, ..., 1}^2 from the cached logits (GLDv2 mAP@100 public split, or a Revisited protocol's",
                "mAP); writes OUT/gridsearch.csv, gridsearch.md, heatmap.png, best.json and prints the best pair."})
public final class GridSearch implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(GridSearch.class);

    @Mixin
    RerankInputs inputs;

    @Option(names = "--top", paramLabel = "K", description = "images re-ranked per query (default: the config's 'k', else 100)")
    Integer top;

    @Option(names = "--metric", paramLabel = "M", defaultValue = "auto",
            description = "gldv2 (public-split mAP@100), easy, medium or hard (Revisited mAP); auto: gldv2 for a "
                    + "ground truth with 'ok' lists, else medium (default: ${DEFAULT-VALUE})")
    String metric;

    @Option(names = "--split", paramLabel = "S", defaultValue = "public",
            description = "GLDv2 queries evaluated: public (all but the last 750), private (the last 750) or all "
                    + "(default: ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "11",
            description = "grid values per axis, evenly spaced over [0, 1] (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "4",
            description = "queries scored in one forward pass (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "gridsearch-out", description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        System.setProperty("java.awt.headless", "true");
        if (inputs.groundTruthFile() == null) throw new IllegalArgumentException("gridsearch needs --gnd");
        if (batch < 1) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        double[] grid = GridResult.unitGrid(steps);
        GridResult result;
        try (RerankInputs.Opened in = inputs.open()) {
            GroundTruth gnd = in.groundTruth();
            String m = metric.toLowerCase(Locale.ROOT);
            if (m.equals("auto")) m = Evaluate.isGldv2(gnd) ? "gldv2" : "medium";
            if (!List.of("gldv2", "easy", "medium", "hard").contains(m)) {
                throw new IllegalArgumentException("unknown --metric '" + metric + "'; expected auto, gldv2, easy, medium or hard");
            }
            if (m.equals("gldv2") != Evaluate.isGldv2(gnd)) {
                throw new IllegalArgumentException("--metric " + m + " needs a " + (m.equals("gldv2")
                        ? "GLDv2 ground truth ('ok' lists)" : "Revisited ground truth (easy/hard/junk lists)")
                        + "; " + inputs.groundTruthFile() + " is not one");
            }
            Protocol protocol = m.equals("gldv2") ? null : Protocol.valueOf(m.toUpperCase(Locale.ROOT));
            int k = Math.min(top != null ? top : in.config().gallerySize(), in.shortlist().length());
            QueryIterator it = new QueryIterator(in.queries(), in.gallery(), in.shortlist(), gnd, protocol, k,
                    in.config().descriptors());
            LogitCache cache = score(it, in.queries().size(), k, new ModelScorer(in.model(), ScoreMode.MAX_END), batch);
            String sp = split.toLowerCase(Locale.ROOT);
            if (!List.of("public", "private", "all").contains(sp)) {
                throw new IllegalArgumentException("unknown --split '" + split + "'; expected public, private or all");
            }
            String name = protocol == null ? "gldv2-" + sp + "-map@100" : protocol.key() + "-map";
            result = evaluate(cache, gnd, protocol, sp, name, grid);
            boolean any = false;
            for (double[] row : result.values()) for (double v : row) any |= !Double.isNaN(v);
            if (!any) {
                throw new IllegalArgumentException("no query of " + inputs.groundTruthFile() + " has a positive in the "
                        + (protocol == null ? sp + " split (" + gnd.numQueries() + " queries, the last "
                        + Gldv2Evaluator.PRIVATE_QUERIES + " are private)" : protocol.key() + " protocol"));
            }
        }
        Files.createDirectories(out);
        GridResult.writeText(out.resolve("gridsearch.csv"), result.csv());
        GridResult.writeText(out.resolve("gridsearch.md"), result.markdown());
        Heatmap.write(out.resolve("heatmap.png"), result);
        int[] best = result.best();
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode b = mapper.createObjectNode();
        b.put("metric", result.metric()).put("alpha", result.alphas()[best[0]]).put("temp", result.temps()[best[1]])
                .put("value", result.values()[best[0]][best[1]]);
        byte[] json = mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(b);
        AtomicFiles.write(out.resolve("best.json"), o -> o.write(json));
        spec.commandLine().getOut().printf(Locale.ROOT, "best: alpha %.2f, temp %.2f, %s %.2f%n",
                result.alphas()[best[0]], result.temps()[best[1]], result.metric(), 100 * result.values()[best[0]][best[1]]);
        spec.commandLine().getOut().println("wrote " + out.resolve("gridsearch.csv") + ", gridsearch.md, heatmap.png, best.json");
        spec.commandLine().getOut().flush();
        return 0;
    }

    /**
     * Scores the top {@code k} of every query once ({@code batch} queries per forward pass).
     */
    public static LogitCache score(QueryIterator it, int numQueries, int k, ModelScorer scorer, int batch) {
        LogitCache cache = new LogitCache(numQueries);
        Progress progress = new Progress(LOG, "gridsearch scoring", "queries", numQueries);
        int[] positions = IntStream.range(0, k).toArray();
        for (int q0 = 0; q0 < numQueries; q0 += batch) {
            List<SlidingReranker.Window> windows = new ArrayList<>();
            List<QueryIterator.QueryExample> examples = new ArrayList<>();
            for (int q = q0; q < Math.min(numQueries, q0 + batch); q++) {
                QueryIterator.QueryExample ex = it.read(q);
                scorer.put(q, ex.queryBlocks(), ex.galleryBlocks());
                windows.add(new SlidingReranker.Window(q, positions));
                examples.add(ex);
            }
            float[][] logits = scorer.score(windows);
            for (int i = 0; i < examples.size(); i++) {
                QueryIterator.QueryExample ex = examples.get(i);
                cache.put(ex.query(), ex.ranking(), ex.similarities(), logits[i]);
                scorer.remove(ex.query());
            }
            progress.advance(examples.size());
        }
        progress.finish();
        return cache;
    }

    /**
     * Evaluates every grid pair from the cache: a Revisited protocol's mAP, or GLDv2 mAP@100 of a split
     * ({@code public}, {@code private} or {@code all}) when {@code protocol} is null.
     */
    public static GridResult evaluate(LogitCache cache, GroundTruth gnd, Protocol protocol, String gldv2Split,
                                      String name, double[] grid) {
        double[][] values = new double[grid.length][grid.length];
        RevisitedEvaluator rev = protocol == null ? null : new RevisitedEvaluator(gnd);
        Gldv2Evaluator gld = protocol == null ? new Gldv2Evaluator(gnd) : null;
        for (int i = 0; i < grid.length; i++) {
            for (int j = 0; j < grid.length; j++) {
                int[][] r = cache.fusedRankings(new Fusion(grid[i], grid[j]));
                if (protocol == null) {
                    var res = gld.evaluate(r);
                    values[i][j] = switch (gldv2Split) {
                        case "private" -> res.privateMap();
                        case "all" -> res.map();
                        default -> res.publicMap();
                    };
                } else {
                    ProtocolResult pr = rev.evaluate(r, protocol);
                    values[i][j] = pr.map();
                }
            }
        }
        return new GridResult(name, grid.clone(), grid.clone(), values);
    }
}
