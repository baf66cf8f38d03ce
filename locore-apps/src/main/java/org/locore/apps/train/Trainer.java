package org.locore.apps.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.apps.Progress;
import org.locore.data.datavec.TrainingExampleIterator;
import org.locore.model.io.AtomicFiles;
import org.locore.model.locore.LocoreInputs;
import org.locore.model.locore.LocoreModel;
import org.locore.model.train.AdamW;
import org.locore.model.train.GradientClipping;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The LOCORE training loop (SPEC section 8), our own rather than {@code SameDiff.fit} (which cannot clip, reports
 * loss 0 to listeners and cannot reload warm-up schedules): per optimizer step, {@code accumulate} passes of
 * {@code batch} sequences from a {@link TrainingExampleIterator}, their gradients averaged (equal to one pass over
 * the union when dropout is off), the global norm clipped, the learning rate taken from the schedule and an
 * {@link AdamW} update. Checkpoints ({@link Checkpoints}) every {@code checkpointEvery} steps and at the end hold
 * everything needed to continue bit-exactly: weights, optimizer moments, step, examples consumed and the dropout
 * generator's state. Progress (loss, in-batch recall@1/5/10, examples/s, ETA) goes to the log; every step's
 * numbers to {@code train_log.json} in the output folder.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Per-step log in the output folder. */
    public static final String LOG_FILE = "train_log.json";
    /** Final weights in the output folder. */
    public static final String FINAL_MODEL = "model.safetensors";

    private final LocoreModel model;
    private final TrainingOptions options;
    private final Path out;
    private final Checkpoints checkpoints;
    private final AdamW optimizer;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private final List<StepResult> history = new ArrayList<>();
    private ObjectNode extraState;
    private Random dropoutRng;
    private long step;
    private long examples;

    /**
     * A fresh run (step 0).
     *
     * @param model   the model to train, in place
     * @param options hyper-parameters
     * @param out     output folder: checkpoints under {@code checkpoints/}, the log, the final weights
     */
    public Trainer(LocoreModel model, TrainingOptions options, Path out) {
        this.model = model;
        this.options = options;
        this.out = out;
        this.checkpoints = new Checkpoints(out.resolve("checkpoints"), options.keep());
        this.optimizer = new AdamW(options.beta1(), options.beta2(), options.eps(), options.weightDecay());
        this.dropoutRng = new Random(options.seed());
    }

    /** Adds a listener. */
    public Trainer addListener(TrainingListener l) {
        listeners.add(l);
        return this;
    }

    /** Fields added to every checkpoint's {@code state.json} (e.g. the data and model configuration). */
    public Trainer setExtraState(ObjectNode extra) {
        this.extraState = extra;
        return this;
    }

    /** The checkpoints of this run. */
    public Checkpoints checkpoints() {
        return checkpoints;
    }

    /** Steps completed. */
    public long step() {
        return step;
    }

    /** Examples consumed: where the data iterator must start to continue this run. */
    public long examples() {
        return examples;
    }

    /** The optimizer. */
    public AdamW optimizer() {
        return optimizer;
    }

    /** The steps run so far (also those of earlier runs when resumed from a log). */
    public List<StepResult> history() {
        return List.copyOf(history);
    }

    /**
     * Continues from a checkpoint: the model must already hold its weights ({@link Checkpoints#loadModel}); this
     * restores the optimizer, step, examples, dropout generator and the log of earlier steps.
     */
    public void resumeFrom(Path checkpoint) throws IOException {
        Checkpoints.State st = Checkpoints.loadState(checkpoint);
        Checkpoints.loadOptimizer(checkpoint, optimizer, model);
        if (optimizer.step() != st.step()) {
            throw new org.locore.model.io.FormatException(checkpoint.resolve(Checkpoints.OPTIMIZER),
                    "optimizer step " + optimizer.step() + " but the checkpoint is at step " + st.step());
        }
        step = st.step();
        examples = st.examples();
        dropoutRng = st.dropoutRng();
        history.clear();
        Path logFile = out.resolve(LOG_FILE);
        if (Files.exists(logFile)) {
            for (var n : JSON.readTree(Files.readAllBytes(logFile)).path("steps")) {
                StepResult r = JSON.treeToValue(n, StepResult.class);
                if (r.step() < step) history.add(r);
            }
        }
        LOG.info("resuming at step {} ({} examples consumed) from {}", step, examples, checkpoint);
    }

    /**
     * Trains until {@code options.steps()} steps are done or the data ends, writing checkpoints, the log and
     * finally {@code model.safetensors}.
     *
     * @param data examples positioned at {@link #examples()} (its batch size must be {@code options.batch()})
     */
    public void run(TrainingExampleIterator data) throws IOException {
        if (data.position() != examples) {
            throw new IllegalArgumentException("the data iterator is at example " + data.position()
                    + ", the run at " + examples);
        }
        Files.createDirectories(out);
        boolean wantUpdates = listeners.stream().anyMatch(TrainingListener::wantsUpdates);
        for (TrainingListener l : listeners) l.onStart(model, options, step);
        long remainingExamples = (options.steps() - step) * options.examplesPerStep();
        Progress progress = new Progress(LOG, "train", "examples",
                Math.min(remainingExamples, data.totalExamples() - examples));
        while (step < options.steps() && data.hasNext()) {
            long t0 = System.nanoTime();
            Map<String, INDArray> sum = null;
            double lossSum = 0;
            int passes = 0;
            InBatchRecall recall = new InBatchRecall(1, 5, 10);
            for (int a = 0; a < options.accumulate() && data.hasNext(); a++) {
                MultiDataSet mds = data.next();
                LocoreInputs in = inputs(mds);
                LocoreModel.Gradients g = model.gradients(in, options.dropout() > 0 ? dropoutRng : null);
                if (sum == null) {
                    sum = new LinkedHashMap<>();
                    for (Map.Entry<String, INDArray> e : g.gradients().entrySet()) sum.put(e.getKey(), e.getValue().dup());
                } else {
                    for (Map.Entry<String, INDArray> e : g.gradients().entrySet()) sum.get(e.getKey()).addi(e.getValue());
                }
                lossSum += g.loss();
                recall.add(g.scores(), in.positiveMask());
                examples += in.batch();
                passes++;
            }
            if (passes > 1) {
                for (INDArray v : sum.values()) v.divi(passes);
            }
            double norm = GradientClipping.clip(sum, options.clip());
            double lr = options.schedule().lr(step);
            Map<String, INDArray> before = null;
            if (wantUpdates) {
                before = new LinkedHashMap<>();
                for (Map.Entry<String, INDArray> e : model.parameters().entrySet()) before.put(e.getKey(), e.getValue().dup());
            }
            optimizer.update(model.parameters(), sum, lr);
            Map<String, INDArray> updates = null;
            if (before != null) {
                updates = new LinkedHashMap<>();
                for (Map.Entry<String, INDArray> e : model.parameters().entrySet()) {
                    updates.put(e.getKey(), e.getValue().sub(before.get(e.getKey())));
                }
            }
            StepResult r = new StepResult(step, lossSum / passes, norm, lr, recall.recall(0), recall.recall(1),
                    recall.recall(2), examples, (System.nanoTime() - t0) / 1e9);
            history.add(r);
            step++;
            progress.setExtra(String.format(Locale.ROOT,
                    "step %d/%d, loss %.4f, R@1 %.3f R@5 %.3f R@10 %.3f, |g| %.3f, lr %.3g",
                    step, options.steps(), r.loss(), r.recallAt1(), r.recallAt5(), r.recallAt10(), norm, lr));
            progress.advance((long) passes * options.batch());
            for (TrainingListener l : listeners) l.onStep(r, model, sum, updates);
            if (options.checkpointEvery() > 0 && step % options.checkpointEvery() == 0) {
                checkpoint();
            }
        }
        progress.finish();
        if (step < options.steps()) {
            LOG.warn("the training data ended after {} of {} steps", step, options.steps());
        }
        if (checkpoints.latest().map(Checkpoints::stepOf).orElse(-1L) != step) checkpoint();
        model.save(out.resolve(FINAL_MODEL));
        for (TrainingListener l : listeners) l.onEnd();
    }

    private void checkpoint() throws IOException {
        ObjectNode extra = JSON.createObjectNode();
        extra.set("options", options.toJson());
        if (extraState != null) extra.setAll(extraState);
        checkpoints.save(step, examples, dropoutRng, model, optimizer, extra);
        writeLog();
    }

    private void writeLog() throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode steps = root.putArray("steps");
        for (StepResult r : history) steps.add(JSON.valueToTree(r));
        byte[] bytes = JSON.writeValueAsBytes(root);
        AtomicFiles.write(out.resolve(LOG_FILE), o -> o.write(bytes));
    }

    /** The model inputs of a training batch (features in {@link LocoreInputs} order, labels[0] = positive mask). */
    public static LocoreInputs inputs(MultiDataSet m) {
        INDArray[] f = m.getFeatures();
        return new LocoreInputs(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], m.getLabels(0));
    }
}
