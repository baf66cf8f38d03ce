package org.locore.apps.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.apps.Progress;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.groundtruth.Protocol;
import org.locore.model.io.AtomicFiles;
import org.locore.model.locore.Fusion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code locore demo}: the embedded end-to-end demo on a synthetic instance-retrieval benchmark. Stages:
 * {@code generate} (the benchmark in the real file formats, {@link SyntheticLandmarks}), {@code global} (mAP of
 * the global shortlist), {@code local_baseline} (learning-free mutual-nearest-neighbour re-ranking of the top-k,
 * {@link LocalMatchBaseline}), then {@code train}, {@code gridsearch} and {@code rerank} through
 * {@link LocoreStages} ({@link LocoreDemoStages} unless another implementation is given; skipped with
 * {@code --no-locore}). Prints a table of Medium/Hard mAP and seconds per
 * stage and writes {@code report.json} in the output folder:
 * <pre>
 * {"global": {"medium": m, "hard": h}, "reranked": {"medium": m, "hard": h} or null with --no-locore,
 *  "local_baseline": {"medium": m, "hard": h}, "seconds": {stage: s}, "stages": {stage: "done" or "not run: why"},
 *  "config": {...}}
 * </pre>
 * mAP values are fractions in [0, 1] (the table prints them times 100).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "End-to-end demo on a synthetic instance-retrieval benchmark in the real file formats: "
                + "generates it, evaluates the global ranking, re-ranks the top of the shortlist with learning-free "
                + "local matching, trains a small LOCORE on its training split, grid-searches alpha/temperature on its "
                + "validation split and sliding-re-ranks its test queries with it, prints "
                + "Medium/Hard mAP and seconds per stage, and writes report.json in the output folder.")
public final class DemoCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(DemoCommand.class);

    /** Stage names, in running order (keys of {@code seconds} and {@code stages} in report.json). */
    public static final String GENERATE = "generate", GLOBAL = "global", LOCAL_BASELINE = "local_baseline",
            TRAIN = "train", GRIDSEARCH = "gridsearch", RERANK = "rerank";

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "./locore-demo",
            description = "output folder (benchmark files, model, report.json; default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
            description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--small", description = "the small test configuration (seconds): the defaults of every size "
            + "option below become those of the small configuration")
    boolean small;

    @Option(names = "--dim", paramLabel = "N", description = "descriptor dimension (default: 64)")
    Integer dim;
    @Option(names = "--rows", paramLabel = "N", description = "local descriptors per image (default: 32)")
    Integer rows;
    @Option(names = "--prototypes", paramLabel = "N", description = "prototype descriptors per landmark (default: 12)")
    Integer prototypes;
    @Option(names = "--scenes", paramLabel = "N", description = "scenes (clutter centres) (default: 6)")
    Integer scenes;
    @Option(names = "--confusers", paramLabel = "N", description = "descriptors shared by all landmarks (default: 12)")
    Integer confusers;
    @Option(names = "--train-landmarks", paramLabel = "N",
            description = "landmarks of the training split (default: 150)")
    Integer trainLandmarks;
    @Option(names = "--train-images", paramLabel = "N",
            description = "training images per landmark (default: 8)")
    Integer trainImages;
    @Option(names = "--val-landmarks", paramLabel = "N",
            description = "validation landmarks with queries (default: 12; small: 6)")
    Integer valLandmarks;
    @Option(names = "--test-landmarks", paramLabel = "N",
            description = "test landmarks with queries (default: 16; small: 10)")
    Integer testLandmarks;
    @Option(names = "--queries", paramLabel = "N", description = "queries per landmark (default: 3; small: 2)")
    Integer queries;
    @Option(names = "--easy", paramLabel = "N", description = "easy gallery images per landmark (default: 4; small: 3)")
    Integer easy;
    @Option(names = "--hard", paramLabel = "N", description = "hard gallery images per landmark (default: 6; small: 4)")
    Integer hard;
    @Option(names = "--junk", paramLabel = "N", description = "junk gallery images per landmark (default: 2)")
    Integer junk;
    @Option(names = "--background", paramLabel = "N",
            description = "gallery images of landmarks without queries (default: 120; small: 40)")
    Integer background;
    @Option(names = "--distractors", paramLabel = "N",
            description = "distractor images after the test gallery (default: 400; small: 60)")
    Integer distractors;
    @Option(names = "--shortlist", paramLabel = "N",
            description = "shortlist length of val/test queries (default: 200; small: 100)")
    Integer shortlist;
    @Option(names = "--train-shortlist", paramLabel = "N",
            description = "shortlist length of training images (default: 100; small: 30)")
    Integer trainShortlist;
    @Option(names = "--noise", paramLabel = "X", description = "noise of landmark descriptors (default: 0.35)")
    Double noise;
    @Option(names = "--clutter", paramLabel = "X",
            description = "weight of the scene centre in clutter descriptors (default: 0.15)")
    Double clutter;

    @Option(names = "--top", paramLabel = "K", defaultValue = "100",
            description = "how many shortlist entries are re-ranked (default: ${DEFAULT-VALUE})")
    int top;

    @Option(names = "--match-threshold", paramLabel = "COS", defaultValue = "0.75",
            description = "cosine a local match needs in the local-matching baseline (default: ${DEFAULT-VALUE})")
    double matchThreshold;

    @Option(names = "--train-seconds", paramLabel = "S", defaultValue = "480",
            description = "time budget of the LOCORE training stage: training stops after the chunk that passes it "
                    + "(default: ${DEFAULT-VALUE})")
    double trainSeconds;

    @Option(names = "--train-steps", paramLabel = "N",
            description = "optimizer steps of the LOCORE training (default: 400; small: 300)")
    Long trainSteps;

    @Option(names = "--locore-layers", paramLabel = "N", description = "encoder layers of the demo's LOCORE (default: 2)")
    Integer locoreLayers;
    @Option(names = "--locore-d", paramLabel = "D", description = "local descriptors per image in a LOCORE sequence (default: 8)")
    Integer locoreD;
    @Option(names = "--locore-k", paramLabel = "K",
            description = "gallery images per LOCORE sequence, also the re-ranking window (default: 16)")
    Integer locoreK;
    @Option(names = "--locore-window", paramLabel = "W",
            description = "two-sided attention window in tokens (an image block is D + 2) (default: 20)")
    Integer locoreWindow;
    @Option(names = "--matching-gain", paramLabel = "G",
            description = "identity weight added to the attention's query/key projections at initialisation "
                    + "(train --init matching; 0 = plain random init) (default: 1)")
    Double matchingGain;
    @Option(names = "--lr", paramLabel = "X", description = "learning rate of the LOCORE training (default: 3e-3)")
    Double lr;
    @Option(names = "--train-batch", paramLabel = "B", description = "sequences per training step (default: 8)")
    Integer trainBatch;

    @Option(names = "--no-locore", description = "skip the LOCORE stages (train, gridsearch, rerank)")
    boolean noLocore;

    @Spec
    CommandSpec spec;

    /** The LOCORE stages given to the constructor, or null for {@link LocoreDemoStages} from the options. */
    private final LocoreStages locore;

    /** The demo as {@code bin/locore demo} runs it: the LOCORE stages are {@link LocoreDemoStages}. */
    public DemoCommand() {
        this(null);
    }

    /**
     * The demo with other LOCORE stages (train, grid search, sliding re-ranking).
     *
     * @param locore the stages, or null for {@link LocoreDemoStages} configured by the options
     */
    public DemoCommand(LocoreStages locore) {
        this.locore = locore;
    }

    /** The LOCORE stages the options describe (default or small settings, --train-steps, --top). */
    LocoreDemoStages.Settings stageSettings() {
        LocoreDemoStages.Settings s = small ? LocoreDemoStages.Settings.small() : LocoreDemoStages.Settings.defaults();
        if (trainSteps != null) s = s.withSteps(trainSteps);
        s = new LocoreDemoStages.Settings(locoreLayers != null ? locoreLayers : s.layers(), s.heads(),
                locoreWindow != null ? locoreWindow : s.window(), locoreD != null ? locoreD : s.descriptors(),
                locoreK != null ? locoreK : s.gallery(), s.steps(), s.chunkSteps(),
                trainBatch != null ? trainBatch : s.batch(), s.accumulate(), lr != null ? lr : s.lr(), s.warmup(),
                s.dropout(), s.stride(), s.top(), matchingGain != null ? matchingGain : s.matchingGain());
        return s.withTop(top);
    }

    /** The benchmark configuration the options describe. */
    SyntheticLandmarks.Config config() {
        SyntheticLandmarks.Config b = small ? SyntheticLandmarks.Config.small() : SyntheticLandmarks.Config.defaults();
        return new SyntheticLandmarks.Config(seed, or(dim, b.dim()), or(rows, b.rows()), or(prototypes, b.prototypes()),
                or(scenes, b.scenes()), or(confusers, b.confusers()), or(trainLandmarks, b.trainLandmarks()),
                or(trainImages, b.trainImagesPerLandmark()), or(valLandmarks, b.valLandmarks()),
                or(testLandmarks, b.testLandmarks()), or(queries, b.queriesPerLandmark()),
                or(easy, b.easyPerLandmark()), or(hard, b.hardPerLandmark()), or(junk, b.junkPerLandmark()),
                or(background, b.background()), or(distractors, b.distractors()), or(shortlist, b.shortlistLength()),
                or(trainShortlist, b.trainShortlistLength()), noise == null ? b.noise() : noise,
                clutter == null ? b.clutter() : clutter);
    }

    private static int or(Integer v, int d) {
        return v == null ? d : v;
    }

    @Override
    public Integer call() throws IOException {
        if (top < 1) throw new IllegalArgumentException("--top must be >= 1, got " + top);
        SyntheticLandmarks.Config config = config();
        BenchmarkFiles files = new BenchmarkFiles(out);
        Files.createDirectories(out);
        Map<String, Double> seconds = new LinkedHashMap<>();
        Map<String, String> stages = new LinkedHashMap<>();
        Map<Protocol, Double> global = new LinkedHashMap<>();
        Map<Protocol, Double> local = new LinkedHashMap<>();
        Map<Protocol, Double> reranked = new LinkedHashMap<>();

        long t = System.nanoTime();
        new SyntheticLandmarks(config).generate(files);
        t = done(GENERATE, t, seconds, stages);

        Protocol[] protocols = {Protocol.MEDIUM, Protocol.HARD};
        try (TestBenchmark bench = TestBenchmark.open(files.test())) {
            int depth = Math.min(top, bench.shortlist().length());
            RevisitedEvaluator eval = new RevisitedEvaluator(bench.groundTruth());
            for (Protocol p : protocols) global.put(p, eval.evaluate(bench.globalRankings(), p).map());
            t = done(GLOBAL, t, seconds, stages);

            LocalMatchBaseline baseline = new LocalMatchBaseline(matchThreshold);
            Progress progress = new Progress(LOG, LOCAL_BASELINE, "protocols", protocols.length);
            for (Protocol p : protocols) {
                local.put(p, eval.evaluate(baseline.rerank(bench, p, depth), p).map());
                progress.advance(1);
            }
            progress.finish();
            t = done(LOCAL_BASELINE, t, seconds, stages);

            LocoreStages stagesImpl = noLocore ? null : locore != null ? locore : new LocoreDemoStages(stageSettings());
            if (stagesImpl == null) {
                String why = "not run: --no-locore";
                stages.put(TRAIN, why);
                stages.put(GRIDSEARCH, why);
                stages.put(RERANK, why);
            } else {
                Path model = stagesImpl.train(files, out.resolve("model"), seed, trainSeconds);
                t = done(TRAIN, t, seconds, stages);
                Fusion fusion = stagesImpl.gridSearch(files, model);
                t = done(GRIDSEARCH, t, seconds, stages);
                for (Protocol p : protocols) {
                    reranked.put(p, eval.evaluate(stagesImpl.rerank(files, model, fusion, p), p).map());
                }
                done(RERANK, t, seconds, stages);
            }
        }

        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode report = mapper.createObjectNode();
        report.set("global", maps(mapper, global));
        if (reranked.isEmpty()) {
            report.putNull("reranked");
        } else {
            report.set("reranked", maps(mapper, reranked));
        }
        report.set("local_baseline", maps(mapper, local));
        report.set("seconds", mapper.valueToTree(seconds));
        report.set("stages", mapper.valueToTree(stages));
        ObjectNode cfg = mapper.valueToTree(config);
        cfg.put("top", top);
        cfg.put("match_threshold", matchThreshold);
        report.set("config", cfg);
        byte[] json = mapper.writeValueAsBytes(report);
        AtomicFiles.write(files.report(), o -> o.write(json));

        printTable(spec.commandLine().getOut(), global, local, reranked, seconds, stages, files);
        return 0;
    }

    private static long done(String stage, long start, Map<String, Double> seconds, Map<String, String> stages) {
        long now = System.nanoTime();
        seconds.put(stage, Math.round((now - start) / 1e6) / 1e3);
        stages.put(stage, "done");
        LOG.info("{}: done in {} s", stage, seconds.get(stage));
        return now;
    }

    private static ObjectNode maps(ObjectMapper mapper, Map<Protocol, Double> m) {
        ObjectNode n = mapper.createObjectNode();
        m.forEach((p, v) -> n.put(p.key(), v));
        return n;
    }

    private static void printTable(PrintWriter w, Map<Protocol, Double> global, Map<Protocol, Double> local,
                                   Map<Protocol, Double> reranked, Map<String, Double> seconds,
                                   Map<String, String> stages, BenchmarkFiles files) {
        w.println("mAP on the synthetic test benchmark (x100)   Medium   Hard");
        row(w, "global only", global);
        row(w, "local matching (mutual NN), no learning", local);
        if (reranked.isEmpty()) {
            w.println(String.format(Locale.ROOT, "%-44s %s", "LOCORE re-ranked", "not run"));
        } else {
            row(w, "LOCORE re-ranked", reranked);
        }
        w.println();
        w.println("stage            seconds  status");
        for (Map.Entry<String, String> e : stages.entrySet()) {
            Double s = seconds.get(e.getKey());
            w.println(String.format(Locale.ROOT, "%-15s %8s  %s", e.getKey(),
                    s == null ? "-" : String.format(Locale.ROOT, "%.1f", s), e.getValue()));
        }
        w.println();
        w.println("report: " + files.report());
        w.flush();
    }

    private static void row(PrintWriter w, String name, Map<Protocol, Double> m) {
        w.println(String.format(Locale.ROOT, "%-44s %6.1f %6.1f", name, 100 * m.get(Protocol.MEDIUM),
                100 * m.get(Protocol.HARD)));
    }
}
