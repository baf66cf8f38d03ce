package org.locore.apps.train;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.data.datavec.TrainingExampleIterator;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.groundtruth.ImageList;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.io.FormatException;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreInitializer;
import org.locore.model.locore.LocoreModel;
import org.locore.model.longformer.LongformerConfig;
import org.locore.model.train.AdamW;
import org.locore.model.train.LearningRateSchedule;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The training loop: bit-exact resume, gradient accumulation, checkpoint rotation and atomicity. */
class TrainerTest {
    @TempDir
    static Path data;
    static SyntheticTrainingSet set;

    @BeforeAll
    static void writeData() throws IOException {
        set = SyntheticTrainingSet.write(data, 11);
    }

    static LocoreConfig config(double dropout) throws IOException {
        LocoreConfig c = LocoreConfig.read(set.config);
        LongformerConfig l = c.longformer();
        return new LocoreConfig(new LongformerConfig(l.hiddenSize(), l.numLayers(), l.numHeads(), l.intermediateSize(),
                l.attentionWindow(), l.maxPositions(), l.layerNormEps(), dropout, dropout, l.padTokenId(),
                l.typeVocabSize()), 5, 7, c.queryGlobalAttention(), c.layersKept());
    }

    static TrainingOptions options(long steps, int batch, int accumulate, double dropout, double clip) {
        return new TrainingOptions(steps, batch, accumulate, new LearningRateSchedule(1e-3, 3), 0.01, 0.9, 0.999,
                1e-6, clip, dropout, 7, 2, 2);
    }

    /** Runs a trainer over the synthetic set from its current example. */
    static void run(Trainer t, TrainingOptions o) throws IOException {
        try (LocalFeatures lf = LocalFeatures.open(set.locals);
             GlobalDescriptors gd = GlobalDescriptors.open(set.globals, SyntheticTrainingSet.DIM);
             TrainingExampleIterator it = TrainingExampleIterator.builder().features(lf, gd)
                     .shortlist(ShortlistFile.read(set.shortlist)).labels(Train.labels(ImageList.read(set.list)))
                     .descriptors(5).gallerySize(7).batchSize(o.batch()).seed(o.seed()).epochs(10)
                     .start(t.examples()).build()) {
            t.run(it);
        }
    }

    @Test
    void resumeIsBitExact(@TempDir Path dir) throws IOException {
        LocoreConfig cfg = config(0.1);
        // 4 steps straight
        LocoreModel a = LocoreInitializer.random(cfg, 3, 1);
        Trainer straight = new Trainer(a, options(4, 2, 1, 0.1, 1.0), dir.resolve("a"));
        run(straight, options(4, 2, 1, 0.1, 1.0));
        // 2 steps, then a new process: weights from the checkpoint, resume, 2 more
        Trainer first = new Trainer(LocoreInitializer.random(cfg, 3, 1), options(2, 2, 1, 0.1, 1.0), dir.resolve("b"));
        run(first, options(2, 2, 1, 0.1, 1.0));
        Path ck = first.checkpoints().latest().orElseThrow();
        assertEquals(2, Checkpoints.stepOf(ck));
        LocoreModel b = Checkpoints.loadModel(ck, cfg);
        Trainer second = new Trainer(b, options(4, 2, 1, 0.1, 1.0), dir.resolve("b"));
        second.resumeFrom(ck);
        assertEquals(2, second.step());
        assertEquals(4, second.examples());
        run(second, options(4, 2, 1, 0.1, 1.0));

        assertEquals(straight.history(), withoutTimes(second.history(), straight.history()));
        for (Map.Entry<String, INDArray> e : a.parameters().entrySet()) {
            assertArrayEquals(e.getValue().dup('c').data().asFloat(),
                    b.parameters().get(e.getKey()).dup('c').data().asFloat(), 0f, e.getKey());
        }
        // the warm-up schedule continued where it stopped: steps 2 and 3 used 2/3 and 3/3 of the rate
        assertEquals(1e-3 * 2 / 3, second.history().get(2).learningRate(), 1e-15);
        assertEquals(1e-3, second.history().get(3).learningRate(), 1e-15);
    }

    /** The history of a resumed run with the wall times of a reference run (times differ, the rest must not). */
    private static List<StepResult> withoutTimes(List<StepResult> h, List<StepResult> ref) {
        return java.util.stream.IntStream.range(0, h.size()).mapToObj(i -> {
            StepResult r = h.get(i);
            return new StepResult(r.step(), r.loss(), r.gradNorm(), r.learningRate(), r.recallAt1(), r.recallAt5(),
                    r.recallAt10(), r.examples(), ref.get(i).seconds());
        }).toList();
    }

    @Test
    void accumulationEqualsTheLargerBatch(@TempDir Path dir) throws IOException {
        LocoreConfig cfg = config(0);
        Map<String, INDArray> big = new LinkedHashMap<>();
        Map<String, INDArray> acc = new LinkedHashMap<>();
        double[] losses = new double[2];
        Trainer t1 = new Trainer(LocoreInitializer.random(cfg, 3, 2), options(1, 2, 1, 0, 0), dir.resolve("big"));
        t1.addListener((r, m, g, u) -> {
            g.forEach((k, v) -> big.put(k, v.dup()));
            losses[0] = r.loss();
        });
        run(t1, options(1, 2, 1, 0, 0));
        Trainer t2 = new Trainer(LocoreInitializer.random(cfg, 3, 2), options(1, 1, 2, 0, 0), dir.resolve("acc"));
        t2.addListener((r, m, g, u) -> {
            g.forEach((k, v) -> acc.put(k, v.dup()));
            losses[1] = r.loss();
        });
        run(t2, options(1, 1, 2, 0, 0));
        assertEquals(2, t2.examples());
        assertEquals(losses[0], losses[1], 1e-6);
        for (Map.Entry<String, INDArray> e : big.entrySet()) {
            INDArray x = e.getValue();
            INDArray y = acc.get(e.getKey());
            double scale = Math.max(1e-3, x.amaxNumber().doubleValue());
            double diff = x.sub(y).amaxNumber().doubleValue();
            assertTrue(diff <= 1e-5 * scale, e.getKey() + ": gradients differ by " + diff + " (largest " + scale + ")");
        }
        assertEquals(t1.history().get(0).gradNorm(), t2.history().get(0).gradNorm(), 1e-6);
    }

    @Test
    void checkpointsRotateAndIgnoreUnfinishedOnes(@TempDir Path dir) throws IOException {
        LocoreConfig cfg = config(0);
        LocoreModel m = LocoreInitializer.random(cfg, 3, 4);
        AdamW opt = new AdamW(0.9, 0.999, 1e-8, 0);
        Checkpoints ck = new Checkpoints(dir.resolve("ck"), 2);
        Random rng = new Random(9);
        for (long s = 1; s <= 4; s++) ck.save(s, 10 * s, rng, m, opt, null);
        assertEquals(List.of(3L, 4L), ck.list().stream().map(Checkpoints::stepOf).toList());

        // an interrupted save (temporary folder) and a folder without state are not checkpoints
        Path tmp = Files.createDirectories(ck.dir().resolve(".tmp-step-000000005-123"));
        Files.writeString(tmp.resolve(Checkpoints.MODEL), "half");
        Files.createDirectories(ck.dir().resolve(Checkpoints.name(9)));
        assertEquals(4, Checkpoints.stepOf(ck.latest().orElseThrow()));
        ck.save(6, 60, rng, m, opt, null);
        assertFalse(Files.exists(tmp), "leftovers of interrupted saves are removed");
        assertEquals(List.of(4L, 6L), ck.list().stream().map(Checkpoints::stepOf).toList());

        // the state restores the random generator exactly
        Random expected = new Random(9);
        Random saved = Checkpoints.loadState(ck.latest().orElseThrow()).dropoutRng();
        assertEquals(expected.nextLong(), saved.nextLong());
        assertEquals(60, Checkpoints.loadState(ck.latest().orElseThrow()).examples());

        Path broken = ck.dir().resolve(Checkpoints.name(7));
        Files.createDirectories(broken);
        Files.writeString(broken.resolve(Checkpoints.STATE), "{\"step\": 7}");
        FormatException e = assertThrows(FormatException.class, () -> Checkpoints.loadState(broken));
        assertTrue(e.getMessage().contains(broken.resolve(Checkpoints.STATE).toString()), e.getMessage());
    }
}
