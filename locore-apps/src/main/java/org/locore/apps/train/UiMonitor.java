package org.locore.apps.train;

import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.ui.VertxUIServer;
import org.deeplearning4j.ui.model.stats.StatsListener;
import org.deeplearning4j.ui.model.stats.api.Histogram;
import org.deeplearning4j.ui.model.stats.api.StatsType;
import org.deeplearning4j.ui.model.stats.impl.SbeStatsInitializationReport;
import org.deeplearning4j.ui.model.stats.impl.SbeStatsReport;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.deeplearning4j.ui.model.storage.impl.SbeStorageMetaData;
import org.locore.model.locore.LocoreModel;
import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Loss;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.listeners.impl.UIListener;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Live monitoring of a {@link Trainer} run in the DL4J training UI. {@link #start} starts the UI server (Vert.x; it
 * listens on ALL network interfaces) with an in-memory stats storage. The monitor is a SameDiff listener: after
 * each optimizer step the trainer's {@link #onStep} calls {@link #iterationDone} with the model's training graph,
 * which posts one {@link SbeStatsReport} (score, learning rates, update:parameter mean-magnitude ratios,
 * per-parameter mean / standard deviation / histograms, JVM and off-heap memory, examples/s) to the storage the
 * UI's {@code /train} dashboard reads, after an {@link SbeStatsInitializationReport} at the start. It also drives a
 * SameDiff {@link UIListener}, whose log file the UI's {@code /samediff} page opens (graph and loss curve).
 *
 * <p>Parameter names are shown DL4J-style as {@code LAYER_PARAM} with {@code W} for weights and {@code b} for
 * biases (e.g. {@code encoder.layer.0.attention.self.query_W}): the dashboard charts update:parameter ratios for
 * names ending in {@code W} only.
 */
public final class UiMonitor extends BaseListener implements TrainingListener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UiMonitor.class);
    private static final int BINS = 20;

    private final VertxUIServer server;
    private final StatsStorage storage;
    private final Path logFile;
    private final String sessionId = "locore-" + UUID.randomUUID();
    private final String workerId = "trainer-0";
    private final long startMs = System.currentTimeMillis();
    private UIListener uiListener;
    private SameDiff graph;
    private TrainingOptions options;
    private long lastTimestamp;
    private long firstExamples = -1;
    private long minibatches;
    private StepResult current;
    private Map<String, INDArray> currentUpdates;
    private Map<String, INDArray> currentGradients;
    private Map<String, INDArray> currentParams;

    private UiMonitor(VertxUIServer server, StatsStorage storage, Path logFile) {
        this.server = server;
        this.storage = storage;
        this.logFile = logFile;
    }

    /**
     * Starts the UI server on {@code port} and attaches a fresh stats storage.
     *
     * @param logFile where the SameDiff {@link UIListener} log goes (replaced if present)
     */
    public static UiMonitor start(int port, Path logFile) throws IOException {
        if (port < 1 || port > 65535) throw new IllegalArgumentException("--ui port must lie in 1..65535, got " + port);
        Files.createDirectories(logFile.toAbsolutePath().getParent());
        Files.deleteIfExists(logFile);
        VertxUIServer server = VertxUIServer.getInstance(port, false, null);
        StatsStorage storage = new InMemoryStatsStorage();
        server.attach(storage);
        LOG.warn("DL4J training UI at http://localhost:{}/train -- it listens on ALL network interfaces", server.getPort());
        return new UiMonitor(server, storage, logFile);
    }

    /** The port the UI listens on. */
    public int port() {
        return server.getPort();
    }

    /** The session shown. */
    public String sessionId() {
        return sessionId;
    }

    /** The storage the dashboard reads. */
    public StatsStorage storage() {
        return storage;
    }

    /** The SameDiff UI log file. */
    public Path logFile() {
        return logFile;
    }

    @Override
    public boolean isActive(Operation operation) {
        return operation == Operation.TRAINING;
    }

    @Override
    public boolean wantsUpdates() {
        return true;
    }

    @Override
    public void onStart(LocoreModel model, TrainingOptions options, long firstStep) {
        this.options = options;
        this.graph = model.trainingGraph(options.batch(), model.config().descriptors(), model.config().gallerySize(),
                options.dropout() > 0);
        long now = timestamp();
        storage.putStorageMetaData(new SbeStorageMetaData(now, sessionId, StatsListener.TYPE_ID, workerId,
                SbeStatsInitializationReport.class, SbeStatsReport.class));
        SbeStatsInitializationReport init = new SbeStatsInitializationReport();
        init.reportIDs(sessionId, StatsListener.TYPE_ID, workerId, now);
        Runtime rt = Runtime.getRuntime();
        init.reportSoftwareInfo(System.getProperty("os.arch"), System.getProperty("os.name"),
                ManagementFactory.getRuntimeMXBean().getVmName(), System.getProperty("java.version"),
                ManagementFactory.getRuntimeMXBean().getSpecVersion(), Nd4j.getBackend().getClass().getSimpleName(),
                Nd4j.dataType().toString(), hostName(), ManagementFactory.getRuntimeMXBean().getName(), Map.of());
        init.reportHardwareInfo(rt.availableProcessors(), 0, rt.maxMemory(), offHeapMax(), new long[0], new String[0],
                hostName());
        List<String> names = new ArrayList<>();
        long numParams = 0;
        for (Map.Entry<String, INDArray> e : model.parameters().entrySet()) {
            names.add(uiName(e.getKey()));
            numParams += e.getValue().length();
        }
        init.reportModelInfo(SameDiff.class.getName(), "", names.toArray(new String[0]),
                model.config().longformer().numLayers(), numParams);
        storage.putStaticInfo(init);
        if (graph.getTrainingConfig() == null) {
            // descriptive only (UIListener reads the updater); our own loop does the training
            graph.setTrainingConfig(new TrainingConfig.Builder().skipBuilderValidation(true)
                    .updater(new Adam(options.schedule().baseLr(), options.beta1(), options.beta2(), options.eps()))
                    .minimize("loss").build());
        }
        uiListener = UIListener.builder(logFile.toFile()).plotLosses(1).build();
    }

    @Override
    public void onStep(StepResult result, LocoreModel model, Map<String, INDArray> gradients,
                       Map<String, INDArray> updates) {
        if (firstExamples < 0) firstExamples = result.examples() - options.examplesPerStep();
        minibatches += options.accumulate();
        current = result;
        currentUpdates = updates;
        currentGradients = gradients;
        currentParams = model.parameters();
        At at = new At(0, (int) result.step(), 0, Thread.currentThread().getId(), null, Operation.TRAINING);
        Loss loss = new Loss(List.of("loss"), new double[]{result.loss()});
        try {
            uiListener.iterationStart(graph, at, null, 0);
            uiListener.iterationDone(graph, at, null, loss);
        } catch (RuntimeException e) {
            LOG.warn("SameDiff UI log {}: {}", logFile, e.toString());
        }
        iterationDone(graph, at, null, loss);
    }

    /** Posts the stats of the step the trainer just finished (called from {@link #onStep}). */
    @Override
    public void iterationDone(SameDiff sd, At at, MultiDataSet dataSet, Loss loss) {
        if (current == null) return;
        long now = timestamp();
        SbeStatsReport r = new SbeStatsReport();
        r.reportIDs(sessionId, StatsListener.TYPE_ID, workerId, now);
        r.reportIterationCount(at.iteration());
        r.reportScore(loss.totalLoss());
        Map<String, Double> lrs = new LinkedHashMap<>();
        Map<String, Double> pMean = new LinkedHashMap<>(), pStd = new LinkedHashMap<>(), pMag = new LinkedHashMap<>();
        Map<String, Double> uMean = new LinkedHashMap<>(), uStd = new LinkedHashMap<>(), uMag = new LinkedHashMap<>();
        Map<String, Double> gMag = new LinkedHashMap<>(), gStd = new LinkedHashMap<>();
        Map<String, Histogram> pHist = new LinkedHashMap<>(), uHist = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : currentParams.entrySet()) {
            String n = uiName(e.getKey());
            INDArray p = e.getValue();
            lrs.put(n, current.learningRate());
            pMean.put(n, p.meanNumber().doubleValue());
            pStd.put(n, p.length() > 1 ? p.stdNumber().doubleValue() : 0.0);
            pMag.put(n, p.norm1Number().doubleValue() / p.length());
            pHist.put(n, histogram(p));
            INDArray u = currentUpdates == null ? null : currentUpdates.get(e.getKey());
            if (u != null) {
                uMean.put(n, u.meanNumber().doubleValue());
                uStd.put(n, u.length() > 1 ? u.stdNumber().doubleValue() : 0.0);
                uMag.put(n, u.norm1Number().doubleValue() / u.length());
                uHist.put(n, histogram(u));
            }
            INDArray g = currentGradients == null ? null : currentGradients.get(e.getKey());
            if (g != null) {
                gMag.put(n, g.norm1Number().doubleValue() / g.length());
                gStd.put(n, g.length() > 1 ? g.stdNumber().doubleValue() : 0.0);
            }
        }
        r.reportLearningRates(lrs);
        r.reportMean(StatsType.Parameters, pMean);
        r.reportStdev(StatsType.Parameters, pStd);
        r.reportMeanMagnitudes(StatsType.Parameters, pMag);
        r.reportHistograms(StatsType.Parameters, pHist);
        if (!uMag.isEmpty()) {
            r.reportMean(StatsType.Updates, uMean);
            r.reportStdev(StatsType.Updates, uStd);
            r.reportMeanMagnitudes(StatsType.Updates, uMag);
            r.reportHistograms(StatsType.Updates, uHist);
        }
        if (!gMag.isEmpty()) {
            r.reportMeanMagnitudes(StatsType.Gradients, gMag);
            r.reportStdev(StatsType.Gradients, gStd);
        }
        Runtime rt = Runtime.getRuntime();
        r.reportMemoryUse(rt.totalMemory() - rt.freeMemory(), rt.maxMemory(), offHeapUsed(), offHeapMax(),
                new long[0], new long[0]);
        long runMs = Math.max(1, now - startMs);
        long examplesDone = current.examples() - firstExamples;
        r.reportPerformance(runMs, examplesDone, minibatches, examplesDone * 1000.0 / runMs,
                minibatches * 1000.0 / runMs);
        r.reportStatsCollectionDurationMS((int) Math.max(0, System.currentTimeMillis() - now));
        storage.putUpdate(r);
    }

    private synchronized long timestamp() {
        long t = Math.max(System.currentTimeMillis(), lastTimestamp + 1);
        lastTimestamp = t;
        return t;
    }

    private static Histogram histogram(INDArray a) {
        double min = a.minNumber().doubleValue();
        double max = a.maxNumber().doubleValue();
        int[] counts = new int[BINS];
        float[] v = a.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c').data().asFloat();
        double w = (max - min) / BINS;
        for (float x : v) {
            int b = w > 0 ? (int) ((x - min) / w) : 0;
            counts[Math.min(BINS - 1, Math.max(0, b))]++;
        }
        return new Histogram(min, max, BINS, counts);
    }

    /** {@code language_model.longformer.encoder.layer.0.attention.self.query.weight} -> {@code encoder.layer.0.attention.self.query_weight}. */
    static String uiName(String name) {
        String n = name.startsWith(LocoreModel.ENCODER_PREFIX) ? name.substring(LocoreModel.ENCODER_PREFIX.length())
                : name.startsWith("language_model.") ? name.substring("language_model.".length()) : name;
        n = n.replace('_', '-');
        int dot = n.lastIndexOf('.');
        if (dot < 0) return n + "_value";
        String param = n.substring(dot + 1);
        param = switch (param) {
            case "weight" -> "W";
            case "bias" -> "b";
            default -> param;
        };
        return n.substring(0, dot) + "_" + param;
    }

    private static long offHeapUsed() {
        try {
            return org.bytedeco.javacpp.Pointer.physicalBytes();
        } catch (Throwable t) {
            return 0;
        }
    }

    private static long offHeapMax() {
        try {
            return org.bytedeco.javacpp.Pointer.maxPhysicalBytes();
        } catch (Throwable t) {
            return 0;
        }
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    /** Stops the UI server and detaches the storage. */
    @Override
    public void close() {
        try {
            server.detach(storage);
            server.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.warn("stopping the DL4J UI: {}", e.toString());
        }
    }
}
