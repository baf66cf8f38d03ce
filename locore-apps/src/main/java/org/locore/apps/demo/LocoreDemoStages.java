package org.locore.apps.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.apps.Main;
import org.locore.apps.train.Trainer;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.io.AtomicFiles;
import org.locore.model.io.FormatException;
import org.locore.model.locore.Fusion;
import org.locore.model.locore.SequenceLayout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The LOCORE stages of the demo ({@link LocoreStages}) run by the project's own commands on the synthetic
 * benchmark's files: {@code train} (the {@link Trainer} from a random initialisation, in chunks of
 * {@link Settings#chunkSteps()} steps continued with {@code --resume} until the step count or the time budget is
 * reached), {@code gridsearch} (alpha and temperature on the validation split, GLDv2 mAP@100 over all its queries)
 * and {@code rerank} (sliding windows over the test shortlist against gallery + distractors, one protocol pass at a
 * time). Each stage writes its usual outputs under the model folder: {@code config.json}, {@code model.safetensors},
 * {@code train_log.json}, {@code checkpoints/}, {@code gridsearch/} ({@code best.json}, heatmap, CSV) and
 * {@code rerank-<protocol>/} ({@code ranks_<protocol>.pkl}, {@code metrics.json}).
 */
public final class LocoreDemoStages implements LocoreStages {
    private static final Logger LOG = LoggerFactory.getLogger(LocoreDemoStages.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The small LOCORE of the demo and how it is trained and applied.
     *
     * @param layers       encoder layers
     * @param heads        attention heads (the hidden size is the benchmark's descriptor dimension)
     * @param window       two-sided attention window of every layer (tokens; an image block is D + 2 tokens)
     * @param descriptors  local descriptors per image D
     * @param gallery      gallery images per sequence K (training and grid search; also the re-ranking window)
     * @param steps        optimizer steps
     * @param chunkSteps   steps per training chunk: the time budget is checked between chunks
     * @param batch        sequences per pass
     * @param accumulate   passes per optimizer step
     * @param lr           learning rate
     * @param warmup       linear warm-up steps
     * @param dropout      hidden and attention dropout
     * @param stride       stride of the re-ranking windows
     * @param top          shortlist positions re-ranked
     * @param matchingGain identity weight of the attention's query/key projections at initialisation
     *                     ({@code train --init matching}); 0 = plain random initialisation
     */
    public record Settings(int layers, int heads, int window, int descriptors, int gallery, long steps,
                           long chunkSteps, int batch, int accumulate, double lr, long warmup, double dropout,
                           int stride, int top, double matchingGain) {
        /** Checks the values. */
        public Settings {
            if (layers < 1 || heads < 1 || window < 2 || window % 2 != 0 || descriptors < 1 || gallery < 1
                    || steps < 1 || chunkSteps < 1 || batch < 1 || accumulate < 1 || stride < 1 || top < 1
                    || !(matchingGain >= 0)) {
                throw new IllegalArgumentException("invalid demo model settings: " + this);
            }
        }

        /**
         * The demo's default: 2 layers, 4 heads, D = 8, K = 16, window of two image blocks, matching
         * initialisation (gain 1), learning rate 3e-3.
         */
        public static Settings defaults() {
            return new Settings(2, 4, 20, 8, 16, 400, 50, 8, 1, 3e-3, 10, 0.0, 8, 100, 1.0);
        }

        /** The small configuration of the tests. */
        public static Settings small() {
            return new Settings(2, 4, 20, 8, 16, 300, 300, 8, 1, 3e-3, 10, 0.0, 8, 64, 1.0);
        }

        /** These settings with another step count. */
        public Settings withSteps(long n) {
            return new Settings(layers, heads, window, descriptors, gallery, n, chunkSteps, batch, accumulate, lr,
                    warmup, dropout, stride, top, matchingGain);
        }

        /** These settings re-ranking another number of positions. */
        public Settings withTop(int n) {
            return new Settings(layers, heads, window, descriptors, gallery, steps, chunkSteps, batch, accumulate, lr,
                    warmup, dropout, stride, n, matchingGain);
        }
    }

    private final Settings settings;

    /** The stages with these settings. */
    public LocoreDemoStages(Settings settings) {
        this.settings = settings;
    }

    /** The settings. */
    public Settings settings() {
        return settings;
    }

    /** The model's config file in a model folder (HF Longformer keys plus LOCORE's {@code d} and {@code k}). */
    public static Path configFile(Path modelDir) {
        return modelDir.resolve("config.json");
    }

    /**
     * Writes the model's {@code config.json} for descriptors of width {@code dim}: hidden size {@code dim}, FFN
     * 2 x dim, position table just long enough for a sequence of K gallery images.
     */
    void writeConfig(Path file, int dim) throws IOException {
        if (dim % settings.heads() != 0) {
            throw new IllegalArgumentException("descriptor dimension " + dim + " is not a multiple of the "
                    + settings.heads() + " attention heads");
        }
        SequenceLayout layout = new SequenceLayout(settings.descriptors(), settings.gallery(), settings.window(), true);
        ObjectNode c = JSON.createObjectNode();
        c.put("model_type", "longformer");
        c.put("hidden_size", dim);
        c.put("num_hidden_layers", settings.layers());
        c.put("num_attention_heads", settings.heads());
        c.put("intermediate_size", 2 * dim);
        c.put("attention_window", settings.window());
        c.put("max_position_embeddings", layout.paddedLength() + 2);
        c.put("layer_norm_eps", 1e-5);
        c.put("hidden_dropout_prob", settings.dropout());
        c.put("attention_probs_dropout_prob", settings.dropout());
        c.put("pad_token_id", 1);
        c.put("type_vocab_size", 1);
        c.put("d", settings.descriptors());
        c.put("k", settings.gallery());
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(c);
        AtomicFiles.write(file, o -> o.write(bytes));
    }

    @Override
    public Path train(BenchmarkFiles files, Path modelDir, long seed, double seconds) throws IOException {
        BenchmarkFiles.Split t = files.train();
        Files.createDirectories(modelDir);
        int dim;
        try (var lf = org.locore.data.features.LocalFeatures.open(t.local("train"))) {
            dim = lf.descriptorDim();
        }
        Path config = configFile(modelDir);
        writeConfig(config, dim);
        // a fresh run: older checkpoints in the folder must not be resumed
        deleteCheckpoints(modelDir.resolve("checkpoints"));
        long start = System.nanoTime();
        long done = 0;
        while (done < settings.steps()) {
            long target = Math.min(settings.steps(), done + settings.chunkSteps());
            List<String> args = new ArrayList<>(List.of("train",
                    "--locals", t.local("train").toString(), "--globals", t.global("train").toString(),
                    "--list", t.imageList("train").toString(), "--shortlist", t.shortlist().toString(),
                    "--config", config.toString(), "--out", modelDir.toString(),
                    "--steps", Long.toString(target), "--batch", Integer.toString(settings.batch()),
                    "--accumulate", Integer.toString(settings.accumulate()), "--lr", Double.toString(settings.lr()),
                    "--warmup", Long.toString(settings.warmup()), "--dropout", Double.toString(settings.dropout()),
                    "--descriptors", Integer.toString(settings.descriptors()),
                    "--gallery", Integer.toString(settings.gallery()), "--seed", Long.toString(seed),
                    "--checkpoint-every", "0", "--keep", "1"));
            if (settings.matchingGain() > 0) {
                args.addAll(List.of("--init", "matching", "--matching-gain", Double.toString(settings.matchingGain())));
            } else {
                args.addAll(List.of("--init", "random"));
            }
            if (done > 0) args.add("--resume");
            runQuietly(args);
            done = target;
            double elapsed = (System.nanoTime() - start) / 1e9;
            if (done < settings.steps() && elapsed >= seconds) {
                LOG.warn(String.format(Locale.ROOT, "training stopped by the time budget (%.0f s) after %d of %d steps",
                        seconds, done, settings.steps()));
                break;
            }
        }
        return modelDir.resolve(Trainer.FINAL_MODEL);
    }

    private static void deleteCheckpoints(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return;
        try (var walk = Files.walk(dir)) {
            List<Path> paths = walk.sorted(java.util.Comparator.reverseOrder()).toList();
            for (Path p : paths) Files.delete(p);
        }
    }

    @Override
    public Fusion gridSearch(BenchmarkFiles files, Path model) throws IOException {
        BenchmarkFiles.Split v = files.val();
        Path out = model.resolveSibling("gridsearch");
        List<String> args = new ArrayList<>(List.of("gridsearch"));
        args.addAll(inputs(v, model, false));
        args.addAll(List.of("--metric", "gldv2", "--split", "all", "--top", Integer.toString(settings.gallery()),
                "--out", out.toString()));
        run(args);
        Path best = out.resolve("best.json");
        JsonNode b = JSON.readTree(Files.readAllBytes(best));
        if (!b.path("alpha").isNumber() || !b.path("temp").isNumber()) {
            throw new FormatException(best, "no numeric alpha and temp");
        }
        LOG.info(String.format(Locale.ROOT, "grid search: alpha %.2f, temp %.2f (validation %s %.2f)",
                b.get("alpha").asDouble(), b.get("temp").asDouble(), b.path("metric").asText(),
                100 * b.path("value").asDouble()));
        return new Fusion(b.get("alpha").asDouble(), b.get("temp").asDouble());
    }

    @Override
    public int[][] rerank(BenchmarkFiles files, Path model, Fusion fusion, Protocol protocol) throws IOException {
        BenchmarkFiles.Split s = files.test();
        Path out = model.resolveSibling("rerank-" + protocol.key());
        List<String> args = new ArrayList<>(List.of("rerank"));
        args.addAll(inputs(s, model, true));
        args.addAll(List.of("--protocols", protocol.key(), "--window", Integer.toString(settings.gallery()),
                "--stride", Integer.toString(settings.stride()), "--top", Integer.toString(settings.top()),
                "--alpha", Double.toString(fusion.alpha()), "--temp", Double.toString(fusion.temperature()),
                "--out", out.toString()));
        run(args);
        Shortlist ranks = ShortlistFile.read(out.resolve("ranks_" + protocol.key() + ".pkl"));
        int[][] r = new int[ranks.numQueries()][];
        for (int q = 0; q < r.length; q++) r[q] = ranks.ids(q);
        return r;
    }

    /** The {@code RerankInputs} options of a split (with distractors when asked). */
    private static List<String> inputs(BenchmarkFiles.Split s, Path model, boolean distractors) {
        List<String> a = new ArrayList<>(List.of(
                "--query-local", s.local("query").toString(), "--query-global", s.global("query").toString(),
                "--gallery-local", s.local("gallery").toString(), "--gallery-global", s.global("gallery").toString(),
                "--shortlist", s.shortlist().toString(), "--gnd", s.groundTruth().toString(),
                "--config", configFile(model.getParent()).toString(), "--weights", model.toString()));
        if (distractors && Files.exists(s.local("distractors"))) {
            a.addAll(List.of("--distractor-local", s.local("distractors").toString(),
                    "--distractor-global", s.global("distractors").toString()));
        }
        return a;
    }

    /**
     * {@link #run} with {@code System.out} muted: SameDiff 1.0.0-M2.1 prints a line per differentiated op to it
     * whenever a gradient graph is built (hundreds per training chunk), which would bury the demo's table.
     */
    private static void runQuietly(List<String> args) {
        java.io.PrintStream stdout = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            run(args);
        } finally {
            System.setOut(stdout);
        }
    }

    /** Runs a {@code locore} command; its output goes to the log, a failure becomes an exception. */
    private static void run(List<String> args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        LOG.debug("locore {}", String.join(" ", args));
        int code = cl.execute(args.toArray(String[]::new));
        for (String line : out.toString().split("\n")) {
            if (!line.isBlank()) LOG.info("{}: {}", args.get(0), line);
        }
        if (code != 0) {
            throw new IllegalStateException("demo stage 'locore " + args.get(0) + "' failed (exit " + code + "): "
                    + err.toString().strip());
        }
    }
}
