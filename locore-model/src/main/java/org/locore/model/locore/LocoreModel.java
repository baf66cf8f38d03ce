package org.locore.model.locore;

import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.locore.model.longformer.BandedAttention;
import org.locore.model.longformer.DropoutMasks;
import org.locore.model.longformer.GraphOps;
import org.locore.model.longformer.LongformerConfig;
import org.locore.model.longformer.LongformerBackprop;
import org.locore.model.longformer.LongformerEncoder;
import org.locore.model.longformer.LongformerExecutor;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The LOCORE re-ranker: sequence construction (scale embedding, learned SEP and pad vectors), the Longformer
 * encoder and the per-token 2-class classifier, with the reference checkpoint's tensor names. The model is defined
 * by SameDiff graphs (cached per batch geometry: batch size, D, K, loss or not, dropout or not; they share the
 * parameter arrays of {@link #parameters()}), which run {@link ForwardPath#GRAPH} forward passes and
 * {@link GradientPath#GRAPH} gradients. By default both run eagerly on the same arrays and give the graph's values:
 * inference on {@link org.locore.model.longformer.LongformerExecutor} ({@code EagerForward}), training loss and
 * gradients on {@link org.locore.model.longformer.LongformerBackprop} ({@code EagerTraining}), with per-layer
 * recomputation so that a LOCORE-base training sequence fits in a few GB.
 *
 * <p>Not thread-safe: use one instance per thread (SameDiff sessions are not re-entrant).
 */
public final class LocoreModel {
    private static final Logger LOG = LoggerFactory.getLogger(LocoreModel.class);

    /** Prefix of the Longformer's parameters. */
    public static final String ENCODER_PREFIX = "language_model.longformer.";
    /** The scale embedding {@code [scales, E]}. */
    public static final String SCALE_EMBEDDING = "scale_encoder.weight";
    /** The learned SEP vector {@code [E]}. */
    public static final String SEP_EMBEDDING = ENCODER_PREFIX + "sep_embedding";
    /** The learned padding vector {@code [E]}. */
    public static final String PAD_EMBEDDING = ENCODER_PREFIX + "pad_embedding";
    /** Classifier weight {@code [2, E]}. */
    public static final String CLASSIFIER_WEIGHT = "language_model.classifier.weight";
    /** Classifier bias {@code [2]}. */
    public static final String CLASSIFIER_BIAS = "language_model.classifier.bias";

    /** Tape of the eager backward: keep projections and FFN pre-activations while it stays under this size. */
    static final long FAST_TAPE_LIMIT = 2L << 30;

    private final LocoreConfig config;
    private final Map<String, INDArray> parameters;
    private final DataType dtype;
    private final int numScales;
    private final Map<List<Object>, Graph> graphs = new HashMap<>();
    /** The eager training pass kept between {@link #gradients} calls, and its checkpointing mode. */
    private LongformerBackprop trainingEncoder;
    private LongformerBackprop.Checkpointing trainingMode;
    private LongformerExecutor inferenceExecutor;
    private LongformerExecutor.Attention inferenceAttention;

    private record Graph(SameDiff sd, DropoutMasks dropout, List<String> trainable) {
    }

    private LocoreModel(LocoreConfig config, Map<String, INDArray> parameters) {
        this.config = config;
        // SameDiff copies views when they become variables: keep plain arrays so that every graph shares them
        // and in-place updates (training) reach every graph
        for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
            if (e.getValue().isView()) e.setValue(e.getValue().dup('c'));
        }
        this.parameters = parameters;
        this.dtype = parameters.get(CLASSIFIER_WEIGHT).dataType();
        this.numScales = (int) parameters.get(SCALE_EMBEDDING).size(0);
    }

    /**
     * The expected tensors of a checkpoint with this encoder configuration (all its layers), with their shapes;
     * the scale embedding's row count is free and given as -1.
     */
    public static Map<String, long[]> expectedShapes(LongformerConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(SCALE_EMBEDDING, new long[]{-1, c.hiddenSize()});
        m.put(SEP_EMBEDDING, new long[]{c.hiddenSize()});
        m.put(PAD_EMBEDDING, new long[]{c.hiddenSize()});
        m.putAll(LongformerEncoder.parameterShapes(c, c.numLayers(), ENCODER_PREFIX));
        m.put(CLASSIFIER_WEIGHT, new long[]{2, c.hiddenSize()});
        m.put(CLASSIFIER_BIAS, new long[]{2});
        return m;
    }

    /**
     * Loads a LOCORE {@code model.safetensors} strictly: every expected tensor present with its shape and a floating
     * dtype, nothing else. All problems are reported together in one {@link FormatException}.
     */
    public static LocoreModel load(Path file, LocoreConfig config) throws IOException {
        Map<String, long[]> expected = expectedShapes(config.longformer());
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        Map<String, INDArray> params = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(file)) {
            for (String name : st.names()) {
                if (!expected.containsKey(name)) {
                    unexpected.add(name);
                }
            }
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                if (!st.contains(e.getKey())) {
                    missing.add(e.getKey());
                    continue;
                }
                Safetensors.Entry entry = st.entry(e.getKey());
                if (!shapeMatches(e.getValue(), entry.shape()) || !entry.dtype().isFloating()) {
                    misshaped.add(e.getKey() + " is " + entry.dtype() + Arrays.toString(entry.shape()) + ", expected "
                            + Arrays.toString(e.getValue()).replace("-1", "any"));
                    continue;
                }
                params.put(e.getKey(), st.get(e.getKey()).toINDArray(DataType.FLOAT));
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !misshaped.isEmpty()) {
            StringBuilder sb = new StringBuilder("not a LOCORE checkpoint for this configuration (hidden "
                    + config.longformer().hiddenSize() + ", " + config.longformer().numLayers() + " layers):");
            if (!missing.isEmpty()) sb.append(" missing ").append(missing.size()).append(" tensors ").append(missing).append(';');
            if (!unexpected.isEmpty()) sb.append(" unexpected ").append(unexpected.size()).append(" tensors ").append(unexpected).append(';');
            if (!misshaped.isEmpty()) sb.append(" wrong shape or dtype: ").append(misshaped).append(';');
            throw new FormatException(file, sb.substring(0, sb.length() - 1));
        }
        LOG.debug("loaded {} tensors from {}", params.size(), file);
        return new LocoreModel(config, params);
    }

    /**
     * A model from parameter arrays under the reference names (e.g. a fresh initialisation); the same strict
     * name and shape check as {@link #load}, reported as an {@link IllegalArgumentException}.
     */
    public static LocoreModel create(LocoreConfig config, Map<String, INDArray> parameters) {
        return create(config, parameters, DataType.FLOAT);
    }

    /**
     * {@link #create(LocoreConfig, Map)} with parameters of another floating type (float64 for gradient tests): the
     * graphs and the eager training pass then compute in that type; eager inference needs float32.
     */
    static LocoreModel create(LocoreConfig config, Map<String, INDArray> parameters, DataType dtype) {
        Map<String, long[]> expected = expectedShapes(config.longformer());
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            INDArray a = parameters.get(e.getKey());
            if (a == null) problems.add("missing " + e.getKey());
            else if (!shapeMatches(e.getValue(), a.shape())) problems.add(e.getKey() + " has shape " + Arrays.toString(a.shape()));
        }
        for (String name : parameters.keySet()) {
            if (!expected.containsKey(name)) problems.add("unexpected " + name);
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("parameters do not fit the configuration: " + problems);
        }
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (String name : expected.keySet()) {
            params.put(name, parameters.get(name).castTo(dtype));
        }
        return new LocoreModel(config, params);
    }

    private static boolean shapeMatches(long[] expected, long[] actual) {
        if (expected.length != actual.length) return false;
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] >= 0 ? expected[i] != actual[i] : actual[i] < 1) return false;
        }
        return true;
    }

    /** Saves every parameter as float32 under the reference names. */
    public void save(Path file) throws IOException {
        List<Tensor> tensors = new ArrayList<>();
        for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
            INDArray a = e.getValue();
            tensors.add(Tensor.ofFloats(e.getKey(), a.shape(), a.castTo(DataType.FLOAT).dup('c').data().asFloat()));
        }
        Safetensors.write(file, tensors);
    }

    /** The configuration. */
    public LocoreConfig config() {
        return config;
    }

    /** The live parameter arrays by reference name (updating them in place updates the model). */
    public Map<String, INDArray> parameters() {
        return parameters;
    }

    /** Rows of the scale embedding. */
    public int numScales() {
        return numScales;
    }

    /**
     * The results of a forward pass.
     *
     * @param layout              the sequence layout
     * @param inputsEmbeds        {@code [B, n, E]} the padded sequence fed to the encoder
     * @param attentionMask       {@code [B][n]}, 1 = attend
     * @param globalAttentionMask {@code [B][n]}, 1 = global
     * @param lastHiddenState     {@code [B, tokens, E]} (unpadded)
     * @param logits              {@code [B, tokens, 2]} (unpadded)
     */
    public record Output(SequenceLayout layout, INDArray inputsEmbeds, int[][] attentionMask,
                         int[][] globalAttentionMask, INDArray lastHiddenState, INDArray logits) {
        /** Per-gallery-image scores {@code [B, K]} (class-1 logits). */
        public INDArray scores(ScoreMode mode) {
            int b = (int) logits.size(0);
            int k = layout.gallerySize();
            int d = layout.descriptors();
            float[][] out = new float[b][k];
            for (int r = 0; r < b; r++) {
                for (int i = 0; i < k; i++) {
                    int img = i + 1;
                    out[r][i] = switch (mode) {
                        case MAX_END -> logits.getFloat(r, layout.localPosition(img, d - 1), 1);
                        case MAX_START -> logits.getFloat(r, layout.globalPosition(img), 1);
                        case MAX_SUM -> {
                            float s = 0;
                            for (int p = layout.globalPosition(img); p <= layout.localPosition(img, d - 1); p++) {
                                s += logits.getFloat(r, p, 1);
                            }
                            yield s;
                        }
                    };
                }
            }
            return Nd4j.createFromArray(out);
        }
    }

    /**
     * Loss and gradients of one batch.
     *
     * @param loss      the mean token cross-entropy
     * @param gradients the gradient of every parameter
     * @param scores    {@code [B, K]} the class-1 logit of each gallery image's last local token (max-end) in the
     *                  same pass (with its dropout), for in-batch metrics
     */
    public record Gradients(double loss, Map<String, INDArray> gradients, INDArray scores) {
    }

    /** Runs the model on a batch (inference: no dropout), on the fast {@link ForwardPath#EAGER} path. */
    public Output forward(LocoreInputs in) {
        return forward(in, ForwardPath.EAGER);
    }

    /** Runs the model on a batch (inference: no dropout) on the given path; all paths give the same values. */
    public Output forward(LocoreInputs in, ForwardPath path) {
        releaseTrainingBuffers();
        SequenceLayout layout = layoutFor(in);
        SequenceLayout.Encoded enc = layout.encode(in, numScales);
        if (path != ForwardPath.GRAPH) {
            if (dtype != DataType.FLOAT) {
                throw new IllegalStateException("eager inference runs in float32; this model is " + dtype);
            }
            return EagerForward.run(config, parameters, numScales, layout, enc, inferenceExecutor(
                    path == ForwardPath.EAGER_DENSE ? LongformerExecutor.Attention.DENSE
                            : LongformerExecutor.Attention.BANDED));
        }
        Graph g = graph(in.batch(), layout, false, false);
        Map<String, INDArray> feed = feed(g, layout, enc, null);
        Map<String, INDArray> out = g.sd().output(feed, "inputs_embeds", "last_hidden_state", "logits");
        int t = layout.tokens();
        INDArray hidden = out.get("last_hidden_state").get(NDArrayIndex.all(), NDArrayIndex.interval(0, t),
                NDArrayIndex.all()).dup();
        INDArray logits = out.get("logits").get(NDArrayIndex.all(), NDArrayIndex.interval(0, t),
                NDArrayIndex.all()).dup();
        return new Output(layout, out.get("inputs_embeds"), enc.attention(), enc.global(), hidden, logits);
    }

    /** The training loss (dropout off) and the gradient of every parameter; needs a positive mask. */
    public Gradients gradients(LocoreInputs in) {
        return gradients(in, null);
    }

    /**
     * The training loss and the gradient of every parameter (zero for parameters the kept layers do not use), on
     * the default {@link GradientPath#EAGER} path.
     *
     * @param dropoutRng random source for dropout masks, or null for no dropout
     */
    public Gradients gradients(LocoreInputs in, Random dropoutRng) {
        return gradients(in, dropoutRng, GradientPath.EAGER);
    }

    /**
     * The training loss and the gradient of every parameter on the given path. Both paths draw the same dropout
     * masks from {@code dropoutRng} (leaving it in the same state) and give the same values.
     *
     * @param dropoutRng random source for dropout masks, or null for no dropout
     */
    public Gradients gradients(LocoreInputs in, Random dropoutRng, GradientPath path) {
        if (in.positiveMask() == null) {
            throw new IllegalArgumentException("the loss needs a positive mask");
        }
        SequenceLayout layout = layoutFor(in);
        SequenceLayout.Encoded enc = layout.encode(in, numScales);
        if (path == GradientPath.EAGER) {
            LongformerBackprop.Checkpointing mode = LongformerBackprop.tapeBytes(config.longformer(),
                    config.layersKept(), in.batch(), layout.paddedLength(), LongformerBackprop.Checkpointing.FAST)
                    <= FAST_TAPE_LIMIT ? LongformerBackprop.Checkpointing.FAST : LongformerBackprop.Checkpointing.LEAN;
            return EagerTraining.run(config, parameters, numScales, layout, enc, dropoutRng, trainingEncoder(mode));
        }
        Graph g = graph(in.batch(), layout, true, dropoutRng != null);
        Map<String, INDArray> feed = feed(g, layout, enc, dropoutRng);
        var res = g.sd().calculateGradientsAndOutputs(feed, List.of("loss", "logits"), g.trainable());
        double loss = res.getOutputs().get("loss").getDouble(0);
        INDArray logits = res.getOutputs().get("logits");
        int d = layout.descriptors();
        INDArray scores = Nd4j.create(DataType.FLOAT, in.batch(), layout.gallerySize());
        for (int r = 0; r < in.batch(); r++) {
            for (int i = 0; i < layout.gallerySize(); i++) {
                scores.putScalar(r, i, logits.getDouble(r, layout.localPosition(i + 1, d - 1), 1));
            }
        }
        Map<String, INDArray> grads = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> p : parameters.entrySet()) {
            INDArray gr = res.getGradients().get(p.getKey());
            grads.put(p.getKey(), gr == null ? Nd4j.zeros(p.getValue().dataType(), p.getValue().shape()) : gr);
        }
        return new Gradients(loss, grads, scores);
    }

    /** The eager gradients with a given checkpointing (package-private: tests and benchmarks). */
    Gradients gradients(LocoreInputs in, Random dropoutRng, LongformerBackprop.Checkpointing checkpointing) {
        if (in.positiveMask() == null) {
            throw new IllegalArgumentException("the loss needs a positive mask");
        }
        SequenceLayout layout = layoutFor(in);
        SequenceLayout.Encoded enc = layout.encode(in, numScales);
        return EagerTraining.run(config, parameters, numScales, layout, enc, dropoutRng,
                trainingEncoder(checkpointing));
    }

    /**
     * The eager training pass of this checkpointing mode, kept between calls: its float32 tape and working arrays
     * (a few GB at LOCORE-base size) are reused by the next training step of the same geometry instead of being
     * allocated anew.
     */
    private LongformerBackprop trainingEncoder(LongformerBackprop.Checkpointing mode) {
        releaseInferenceBuffers();
        if (trainingEncoder == null || trainingMode != mode) {
            releaseTrainingBuffers();
            trainingEncoder = EagerTraining.encoder(config, parameters, mode);
            trainingMode = mode;
        }
        return trainingEncoder;
    }

    /**
     * Seconds per stage of the eager inference encoder summed over its {@link #forward} calls
     * ({@link LongformerExecutor#stageSeconds()}); empty before the first eager forward. For the benchmarks.
     */
    Map<String, Double> inferenceStageSeconds() {
        return inferenceExecutor == null ? Map.of() : inferenceExecutor.stageSeconds();
    }

    /**
     * The eager inference encoder, kept with its working arrays between {@link #forward} calls of the same
     * attention kind and sequence length (a new one for the other kind).
     */
    private LongformerExecutor inferenceExecutor(LongformerExecutor.Attention attention) {
        if (inferenceExecutor == null || inferenceAttention != attention) {
            releaseInferenceBuffers();
            inferenceExecutor = new LongformerExecutor(config.longformer(), config.layersKept(), ENCODER_PREFIX,
                    parameters::get, attention).keepBuffers(true);
            inferenceAttention = attention;
        }
        return inferenceExecutor;
    }

    /**
     * Releases the native memory the eager inference pass keeps between {@link #forward} calls (its working arrays,
     * about {@code 4 B n (9 E + M)} bytes: 0.2 GB at LOCORE-base size); training ({@link #gradients}) does so
     * first, so that the two never hold memory together.
     */
    public void releaseInferenceBuffers() {
        if (inferenceExecutor != null) {
            inferenceExecutor.release();
            inferenceExecutor = null;
            inferenceAttention = null;
        }
    }

    /**
     * Releases the native memory the eager training pass keeps between {@link #gradients} calls (its tape and
     * working arrays); inference ({@link #forward}) does so first, so that the two never hold memory together.
     */
    public void releaseTrainingBuffers() {
        if (trainingEncoder != null) {
            trainingEncoder.release();
            trainingEncoder = null;
            trainingMode = null;
        }
    }

    /**
     * The SameDiff graph that {@link #gradients(LocoreInputs, Random, GradientPath)} runs on the
     * {@link GradientPath#GRAPH} path for batches of this geometry (built on
     * first use and cached; its variables are the live parameter arrays), e.g. for SameDiff listeners and the
     * DL4J UI's graph view. Do not change its structure or variables (a descriptive {@code TrainingConfig} for
     * listeners is harmless: {@link #gradients} does not use one).
     */
    public SameDiff trainingGraph(int batch, int descriptors, int gallerySize, boolean dropout) {
        SequenceLayout layout = new SequenceLayout(descriptors, gallerySize, config.longformer().maxAttentionWindow(),
                config.queryGlobalAttention());
        return graph(batch, layout, true, dropout).sd();
    }

    private SequenceLayout layoutFor(LocoreInputs in) {
        return new SequenceLayout(in.descriptors(), in.gallerySize(), config.longformer().maxAttentionWindow(),
                config.queryGlobalAttention());
    }

    private List<BandedAttention.Masks> masks(SequenceLayout layout, SequenceLayout.Encoded enc) {
        Map<Integer, BandedAttention.Masks> byWindow = new HashMap<>();
        List<BandedAttention.Masks> out = new ArrayList<>();
        for (int l = 0; l < config.layersKept(); l++) {
            int w = config.longformer().oneSidedWindow(l);
            out.add(byWindow.computeIfAbsent(w, ww -> BandedAttention.Masks.of(enc.attention(), enc.global(), ww,
                    layout.globalSlots(), dtype)));
        }
        return out;
    }

    private Map<String, INDArray> feed(Graph g, SequenceLayout layout, SequenceLayout.Encoded enc, Random rnd) {
        long b = enc.batch();
        long n = layout.paddedLength();
        long e = config.longformer().hiddenSize();
        Map<String, INDArray> feed = new HashMap<>();
        feed.put("features", EagerForward.cast(Nd4j.createFromArray(enc.features()).reshape('c', b, n, e), dtype));
        feed.put("scale_onehot", EagerForward.cast(Nd4j.createFromArray(enc.scaleOneHot()).reshape('c', b * n, numScales),
                dtype));
        feed.put("sep_indicator", EagerForward.cast(Nd4j.createFromArray(enc.sep()).reshape('c', b, n, 1), dtype));
        feed.put("pad_indicator", EagerForward.cast(Nd4j.createFromArray(enc.pad()).reshape('c', b, n, 1), dtype));
        if (g.sd().hasVariable("labels")) {
            feed.put("labels", EagerForward.cast(Nd4j.createFromArray(enc.labels()).reshape('c', b * n, 2), dtype));
        }
        for (BandedAttention.Masks m : new java.util.LinkedHashSet<>(masks(layout, enc))) {
            m.feed(feed, "attention_w" + m.window());
        }
        if (rnd != null) {
            g.dropout().feed(feed, rnd);
        }
        return feed;
    }

    private synchronized Graph graph(int batch, SequenceLayout layout, boolean withLoss, boolean training) {
        List<Object> key = List.of(batch, layout, withLoss, training);
        Graph g = graphs.get(key);
        if (g == null) {
            g = build(batch, layout, withLoss, training);
            graphs.put(key, g);
        }
        return g;
    }

    private Graph build(int batch, SequenceLayout layout, boolean withLoss, boolean training) {
        LongformerConfig c = config.longformer();
        DataType dt = dtype;
        long b = batch;
        long n = layout.paddedLength();
        long e = c.hiddenSize();
        SameDiff sd = SameDiff.create();
        Map<String, SDVariable> vars = new HashMap<>();
        for (Map.Entry<String, INDArray> p : parameters.entrySet()) {
            SDVariable v = sd.var(p.getKey(), p.getValue());
            if (v.getArr() != p.getValue()) {
                throw new IllegalStateException("SameDiff copied parameter " + p.getKey());
            }

            vars.put(p.getKey(), v);
        }
        SDVariable features = sd.placeHolder("features", dt, b, n, e);
        SDVariable scales = sd.placeHolder("scale_onehot", dt, b * n, numScales);
        SDVariable sep = sd.placeHolder("sep_indicator", dt, b, n, 1);
        SDVariable pad = sd.placeHolder("pad_indicator", dt, b, n, 1);
        SDVariable embeds = features
                .add(sd.mmul(scales, vars.get(SCALE_EMBEDDING)).reshape(b, n, e))
                .add(sep.mul(vars.get(SEP_EMBEDDING).reshape(1, 1, e)))
                .add(pad.mul(vars.get(PAD_EMBEDDING).reshape(1, 1, e)));
        embeds = sd.identity("inputs_embeds", embeds);

        // placeholder geometry: masks built from an all-valid dummy batch of the same sizes
        int[][] att = new int[batch][(int) n];
        int[][] glob = new int[batch][(int) n];
        List<BandedAttention.MaskVariables> maskVars = new ArrayList<>();
        List<BandedAttention.Masks> geometry = new ArrayList<>();
        Map<Integer, BandedAttention.MaskVariables> declared = new HashMap<>();
        for (int l = 0; l < config.layersKept(); l++) {
            int w = c.oneSidedWindow(l);
            BandedAttention.Masks geo = BandedAttention.Masks.of(att, glob, w, layout.globalSlots(), dt);
            maskVars.add(declared.computeIfAbsent(w, ww -> geo.placeholders(sd, "attention_w" + ww, dt)));
            geometry.add(geo);
        }
        DropoutMasks dropout = new DropoutMasks(training, dt);
        SDVariable hidden = LongformerEncoder.build(c, config.layersKept(), ENCODER_PREFIX, vars::get, embeds,
                maskVars, geometry, dropout, dt);
        hidden = sd.identity("last_hidden_state", hidden);
        // as HF LongformerForTokenClassification: dropout (hidden_dropout_prob) before the classifier
        SDVariable toClassify = dropout.apply(hidden.reshape(b * n, e), "classifier", c.hiddenDropout(), b * n, e);
        SDVariable logits2 = GraphOps.linear(toClassify, vars.get(CLASSIFIER_WEIGHT), vars.get(CLASSIFIER_BIAS));
        sd.identity("logits", logits2.reshape(b, n, 2));
        List<String> trainable = new ArrayList<>();
        if (withLoss) {
            SDVariable labels = sd.placeHolder("labels", dt, b * n, 2);
            SDVariable loss = labels.mul(GraphOps.logSoftmax(logits2, 1)).sum().neg();
            sd.identity("loss", loss);
            sd.setLossVariables("loss");
            // parameters that the kept layers use (others get zero gradients)
            for (String name : parameters.keySet()) {
                if (isUsed(name)) trainable.add(name);
            }
        }
        LOG.debug("built LOCORE graph: batch {}, length {}, {} layers, loss {}, dropout {}", batch, n,
                config.layersKept(), withLoss, training);
        return new Graph(sd, dropout, trainable);
    }

    private boolean isUsed(String name) {
        String layerPrefix = ENCODER_PREFIX + "encoder.layer.";
        if (!name.startsWith(layerPrefix)) return true;
        int l = Integer.parseInt(name.substring(layerPrefix.length(), name.indexOf('.', layerPrefix.length())));
        return l < config.layersKept();
    }
}
