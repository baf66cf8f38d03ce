package org.locore.apps.rerank;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.apps.Evaluate;
import org.locore.apps.Progress;
import org.locore.data.datavec.QueryIterator;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
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

/**
 * {@code locore rerank}: single-window or sliding-window LOCORE re-ranking of a shortlist, once per Revisited
 * protocol pass (Medium and Hard, each after the protocol's reordering, SPEC section 7) or once without a ground
 * truth; writes the re-ranked shortlists ({@code ranks_<protocol>.pkl}) and {@code metrics.json} (mAP and mP@k
 * before and after re-ranking).
 */
@Command(name = "rerank", mixinStandardHelpOptions = true,
        description = {"Re-ranks a shortlist with LOCORE: one window (--window K --stride K --top K) or sliding",
                "windows (default: window 100, stride 50, top 400, end-to-start). With --gnd, one pass per protocol",
                "(Medium, Hard) after moving the protocol's ignored images to the end; writes OUT/ranks_<protocol>.pkl",
                "(shortlist pickles) and OUT/metrics.json (before/after)."})
public final class Rerank implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(Rerank.class);

    @Mixin
    RerankInputs inputs;

    @Option(names = "--window", paramLabel = "K", defaultValue = "100", description = "images per window (default: ${DEFAULT-VALUE})")
    int window;

    @Option(names = "--stride", paramLabel = "S", defaultValue = "50", description = "window stride (default: ${DEFAULT-VALUE})")
    int stride;

    @Option(names = "--top", paramLabel = "N", defaultValue = "400", description = "positions re-ranked (default: ${DEFAULT-VALUE})")
    int top;

    @Option(names = "--order", paramLabel = "ORDER", defaultValue = "end-to-start",
            description = "end-to-start, start-to-end, start-to-end-to-start or end-to-start-to-end (default: ${DEFAULT-VALUE})")
    String order;

    @Option(names = "--alpha", defaultValue = "0.5", description = "weight of the shortlist similarity (default: ${DEFAULT-VALUE})")
    double alpha;

    @Option(names = "--temp", defaultValue = "0.1", description = "logit temperature (default: ${DEFAULT-VALUE})")
    double temp;

    @Option(names = "--protocols", split = ",", paramLabel = "P", defaultValue = "medium,hard",
            description = "protocol passes with --gnd (default: ${DEFAULT-VALUE})")
    List<String> protocols;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "4",
            description = "queries re-ranked together: their windows share one forward pass (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "rerank-out", description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        WindowOrder wo = WindowOrder.parse(order);
        if (batch < 1) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        List<Protocol> passes = new ArrayList<>();
        if (inputs.groundTruthFile() != null) {
            for (String p : protocols) {
                try {
                    passes.add(Protocol.valueOf(p.strip().toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown protocol '" + p + "'; expected easy, medium or hard");
                }
            }
        } else {
            passes.add(null);
        }
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode metrics = mapper.createObjectNode();
        try (RerankInputs.Opened in = inputs.open()) {
            int n = Math.min(top, in.shortlist().length());
            SlidingReranker sr = new SlidingReranker(window, stride, n, wo, new Fusion(alpha, temp), batch);
            if (sr.starts().length == 0) LOG.warn("{} with window {}, stride {}, top {} visits no window", wo, window, stride, n);
            ObjectNode settings = metrics.putObject("settings");
            settings.put("window", window).put("stride", stride).put("top", n).put("order", wo.label())
                    .put("alpha", alpha).put("temp", temp).put("descriptors", in.config().descriptors())
                    .put("batch", batch).put("gallery", in.gallery().size());
            settings.putPOJO("starts", sr.starts());
            Files.createDirectories(out);
            for (Protocol p : passes) {
                String name = p == null ? "none" : p.key();
                QueryIterator it = new QueryIterator(in.queries(), in.gallery(), in.shortlist(), in.groundTruth(), p, n,
                        in.config().descriptors());
                ModelScorer scorer = new ModelScorer(in.model(), ScoreMode.MAX_END);
                int nq = in.queries().size();
                int[][] before = new int[nq][];
                int[][] after = new int[nq][];
                double[][] sims = new double[nq][];
                Progress progress = new Progress(LOG, "rerank " + name, "queries", nq);
                long t0 = System.nanoTime();
                for (int q0 = 0; q0 < nq; q0 += batch) {
                    List<SlidingReranker.Query> chunk = new ArrayList<>();
                    for (int q = q0; q < Math.min(nq, q0 + batch); q++) {
                        QueryIterator.QueryExample ex = it.read(q);
                        scorer.put(q, ex.queryBlocks(), ex.galleryBlocks());
                        chunk.add(new SlidingReranker.Query(q, ex.ranking(), ex.similarities()));
                        before[q] = ex.ranking();
                    }
                    for (SlidingReranker.Result r : sr.rerank(chunk, scorer)) {
                        after[r.query()] = r.ranking();
                        sims[r.query()] = r.similarities();
                        scorer.remove(r.query());
                    }
                    progress.advance(chunk.size());
                }
                progress.finish();
                double secs = (System.nanoTime() - t0) / 1e9;
                Path ranks = out.resolve("ranks_" + name + ".pkl");
                ShortlistFile.write(ranks, Shortlist.of(sims, after));
                ObjectNode m = metrics.putObject(name);
                m.put("ranks", ranks.toString());
                m.put("forwards", scorer.forwards()).put("sequences", scorer.sequences()).put("seconds", secs);
                if (p != null) {
                    RevisitedEvaluator ev = new RevisitedEvaluator(in.groundTruth());
                    m.set("before", Evaluate.protocolJson(mapper, ev.evaluate(before, p), false));
                    m.set("after", Evaluate.protocolJson(mapper, ev.evaluate(after, p), false));
                    spec.commandLine().getOut().printf(Locale.ROOT, "%s: mAP %.2f -> %.2f%n", name,
                            100 * m.get("before").path("map").asDouble(Double.NaN),
                            100 * m.get("after").path("map").asDouble(Double.NaN));
                }
                LOG.info(String.format(Locale.ROOT, "%s: %d queries, %d forward passes, %.1fs", name, nq,
                        scorer.forwards(), secs));
            }
        }
        Path metricsFile = out.resolve("metrics.json");
        byte[] json = mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(metrics);
        AtomicFiles.write(metricsFile, o -> o.write(json));
        spec.commandLine().getOut().println("wrote " + metricsFile);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
