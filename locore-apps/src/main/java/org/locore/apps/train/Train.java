package org.locore.apps.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.data.datavec.TrainingExampleIterator;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.ImageList;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreInitializer;
import org.locore.model.locore.LocoreModel;
import org.locore.model.longformer.LongformerConfig;
import org.locore.model.train.LearningRateSchedule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code locore train}: trains the LOCORE re-ranker on a training set (local features, global descriptors, image
 * list with landmark labels, global shortlist) with the {@link Trainer}; optionally shows the run live in the DL4J
 * training UI ({@link UiMonitor}).
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains LOCORE (SPEC section 8): every training image is a query, its gallery the top-K "
                + "shortlist neighbours (itself removed) in a shuffled order, labels = same landmark; token "
                + "cross-entropy over gallery tokens, AdamW, gradient clipping and accumulation, dropout.",
                "Checkpoints go to OUT/checkpoints (the last --keep kept), every step's numbers to "
                + "OUT/train_log.json, the final weights to OUT/model.safetensors. Options can come from a file: "
                + "locore train @train.args (one per line; later options override it)."})
public final class Train implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(Train.class);

    /** How the weights start. */
    public enum Init { hf, locore, random, matching }

    @Option(names = "--locals", required = true, paramLabel = "F.hdf5", description = "local features of the training images")
    Path locals;

    @Option(names = "--globals", required = true, paramLabel = "G.pt", description = "global descriptors (headerless float32)")
    Path globals;

    @Option(names = "--dim", paramLabel = "E", description = "global descriptor dimension (default: the local descriptors' width)")
    Integer dim;

    @Option(names = "--list", required = true, paramLabel = "train.txt",
            description = "image list (relative_path,label,width,height); labels = landmark ids")
    Path list;

    @Option(names = "--shortlist", required = true, paramLabel = "nn.pkl", description = "global nearest neighbours of every training image")
    Path shortlist;

    @Option(names = "--config", required = true, paramLabel = "longformer.json",
            description = "HF Longformer config.json (or a JSON with a 'config' key)")
    Path config;

    @Option(names = "--init", paramLabel = "hf|locore|random|matching",
            description = "initial weights: a HF Longformer checkpoint, a LOCORE checkpoint (fine-tuning), random, or "
                    + "matching (random with --matching-gain x identity added to the attention's query and key "
                    + "projections, for training without a pretrained Longformer) (default: locore with --weights, "
                    + "else random)")
    Init init;

    @Option(names = "--matching-gain", defaultValue = "1.0", paramLabel = "G",
            description = "identity weight of --init matching (default: ${DEFAULT-VALUE})")
    double matchingGain;

    @Option(names = "--weights", paramLabel = "W.safetensors", description = "checkpoint for --init hf or locore")
    Path weights;

    @Option(names = "--scales", defaultValue = "3", description = "rows of the scale embedding for hf/random/matching init (default: ${DEFAULT-VALUE})")
    int scales;

    @Option(names = "--out", defaultValue = "locore-train", paramLabel = "DIR", description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--steps", defaultValue = "1000", description = "optimizer steps (default: ${DEFAULT-VALUE})")
    long steps;

    @Option(names = "--batch", defaultValue = "8", description = "sequences per pass (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--accumulate", defaultValue = "4", description = "passes per optimizer step (default: ${DEFAULT-VALUE})")
    int accumulate;

    @Option(names = "--lr", defaultValue = "5e-5", description = "learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--warmup", defaultValue = "0", description = "linear warm-up steps (default: ${DEFAULT-VALUE})")
    long warmup;

    @Option(names = "--weight-decay", defaultValue = "0", description = "decoupled weight decay (default: ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(names = "--adam-eps", defaultValue = "1e-8", description = "Adam epsilon (default: ${DEFAULT-VALUE})")
    double adamEps;

    @Option(names = "--clip", defaultValue = "1.0", description = "global gradient-norm limit, 0 = none (default: ${DEFAULT-VALUE})")
    double clip;

    @Option(names = "--dropout", defaultValue = "0.1", description = "hidden and attention dropout (default: ${DEFAULT-VALUE})")
    double dropout;

    @Option(names = "--descriptors", defaultValue = "48", paramLabel = "D", description = "local descriptors per image (default: ${DEFAULT-VALUE})")
    int descriptors;

    @Option(names = "--gallery", defaultValue = "100", paramLabel = "K", description = "gallery images per sequence (default: ${DEFAULT-VALUE})")
    int gallery;

    @Option(names = "--seed", defaultValue = "0", description = "seed of data order, shuffles, dropout and init (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--checkpoint-every", defaultValue = "500", paramLabel = "N", description = "steps between checkpoints, 0 = end only (default: ${DEFAULT-VALUE})")
    long checkpointEvery;

    @Option(names = "--keep", defaultValue = "3", description = "checkpoints kept (default: ${DEFAULT-VALUE})")
    int keep;

    @Option(names = "--resume", description = "continue from the newest checkpoint in OUT/checkpoints (bit-exact)")
    boolean resume;

    @Option(names = "--ui", arity = "0..1", fallbackValue = "9000", paramLabel = "PORT",
            description = "show the run live in the DL4J training UI on this port (9000 if none given). "
                    + "WARNING: the UI listens on ALL network interfaces")
    Integer uiPort;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter pw = spec.commandLine().getOut();
        TrainingOptions options = new TrainingOptions(steps, batch, accumulate, new LearningRateSchedule(lr, warmup),
                weightDecay, 0.9, 0.999, adamEps, clip, dropout, seed, checkpointEvery, keep);
        LocoreConfig cfg = modelConfig();
        Path ckptDir = out.resolve("checkpoints");
        Optional<Path> from = resume ? new Checkpoints(ckptDir, keep).latest() : Optional.empty();
        if (resume && from.isEmpty()) {
            LOG.warn("--resume: no checkpoint in {}, starting a new run", ckptDir);
        }
        try (LocalFeatures lf = LocalFeatures.open(locals);
             GlobalDescriptors gd = GlobalDescriptors.open(globals, dim != null ? dim : lf.descriptorDim())) {
            if (lf.descriptorDim() != cfg.longformer().hiddenSize()) {
                throw new IllegalArgumentException(locals + ": descriptors of width " + lf.descriptorDim()
                        + " but the model's hidden size is " + cfg.longformer().hiddenSize());
            }
            int[] labels = labels(ImageList.read(list));
            Shortlist sl = ShortlistFile.read(shortlist);
            LocoreModel model;
            Trainer trainer;
            if (from.isPresent()) {
                checkCompatible(Checkpoints.loadState(from.get()).json(), options);
                model = Checkpoints.loadModel(from.get(), cfg);
                trainer = new Trainer(model, options, out);
                trainer.resumeFrom(from.get());
            } else {
                model = initialModel(cfg);
                trainer = new Trainer(model, options, out);
            }
            trainer.setExtraState(describe(cfg));
            long needed = options.steps() * options.examplesPerStep();
            int epochs = (int) Math.max(1, (needed + labels.length - 1) / labels.length);
            UiMonitor ui = uiPort == null ? null : UiMonitor.start(uiPort, out.resolve("ui").resolve("samediff.bin"));
            try (TrainingExampleIterator data = TrainingExampleIterator.builder().features(lf, gd).shortlist(sl)
                    .labels(labels).descriptors(descriptors).gallerySize(gallery).batchSize(batch).seed(seed)
                    .epochs(epochs).start(trainer.examples()).build()) {
                if (ui != null) {
                    trainer.addListener(ui);
                    pw.println("DL4J training UI: http://localhost:" + ui.port() + "/train (listening on all interfaces)");
                    pw.flush();
                }
                trainer.run(data);
            } finally {
                if (ui != null) ui.close();
            }
            List<StepResult> h = trainer.history();
            StepResult last = h.isEmpty() ? null : h.get(h.size() - 1);
            pw.printf(Locale.ROOT, "trained %d steps (%d examples)%s%n", trainer.step(), trainer.examples(),
                    last == null ? "" : String.format(Locale.ROOT, ", last loss %.4f, in-batch R@1 %.3f",
                            last.loss(), last.recallAt1()));
            pw.println("weights: " + out.resolve(Trainer.FINAL_MODEL));
            pw.println("log: " + out.resolve(Trainer.LOG_FILE));
            pw.flush();
        }
        return 0;
    }

    private LocoreConfig modelConfig() throws IOException {
        LocoreConfig base = LocoreConfig.read(config);
        LongformerConfig l = base.longformer();
        LongformerConfig withDropout = new LongformerConfig(l.hiddenSize(), l.numLayers(), l.numHeads(),
                l.intermediateSize(), l.attentionWindow(), l.maxPositions(), l.layerNormEps(), dropout, dropout,
                l.padTokenId(), l.typeVocabSize());
        return new LocoreConfig(withDropout, descriptors, gallery, base.queryGlobalAttention(), base.layersKept());
    }

    private LocoreModel initialModel(LocoreConfig cfg) throws IOException {
        Init how = init != null ? init : (weights != null ? Init.locore : Init.random);
        if ((how == Init.hf || how == Init.locore) && weights == null) {
            throw new IllegalArgumentException("--init " + how + " needs --weights");
        }
        return switch (how) {
            case hf -> LocoreInitializer.fromLongformer(weights, cfg, scales, seed);
            case locore -> LocoreModel.load(weights, cfg);
            case random -> LocoreInitializer.random(cfg, scales, seed);
            case matching -> LocoreInitializer.matching(cfg, scales, seed, matchingGain);
        };
    }

    /** Landmark labels as ids (equal label strings = equal ids). */
    static int[] labels(ImageList images) {
        Map<String, Integer> ids = new HashMap<>();
        int[] out = new int[images.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.computeIfAbsent(images.get(i).label(), k -> ids.size());
        }
        return out;
    }

    private ObjectNode describe(LocoreConfig cfg) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        ObjectNode m = n.putObject("model");
        m.put("config", config.toString());
        m.put("hidden_size", cfg.longformer().hiddenSize());
        m.put("layers", cfg.longformer().numLayers());
        m.put("descriptors", cfg.descriptors());
        m.put("gallery", cfg.gallerySize());
        ObjectNode d = n.putObject("data");
        d.put("locals", locals.toString());
        d.put("globals", globals.toString());
        d.put("list", list.toString());
        d.put("shortlist", shortlist.toString());
        return n;
    }

    private void checkCompatible(ObjectNode state, TrainingOptions now) {
        TrainingOptions then = TrainingOptions.fromJson(state.path("options"));
        StringBuilder sb = new StringBuilder();
        if (then.batch() != now.batch()) sb.append(" --batch ").append(then.batch());
        if (then.accumulate() != now.accumulate()) sb.append(" --accumulate ").append(then.accumulate());
        if (then.seed() != now.seed()) sb.append(" --seed ").append(then.seed());
        if (state.path("model").path("descriptors").asInt(descriptors) != descriptors) {
            sb.append(" --descriptors ").append(state.path("model").path("descriptors").asInt());
        }
        if (state.path("model").path("gallery").asInt(gallery) != gallery) {
            sb.append(" --gallery ").append(state.path("model").path("gallery").asInt());
        }
        if (sb.length() > 0) {
            throw new IllegalArgumentException("--resume: the checkpoint was made with" + sb
                    + "; resume with the same values");
        }
    }
}
