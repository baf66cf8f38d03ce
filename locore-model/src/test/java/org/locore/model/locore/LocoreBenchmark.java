package org.locore.model.locore;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.locore.model.longformer.LongformerConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Forward time of LOCORE-base geometry (5120 tokens, hidden 768, 12 layers, window 512, D = 48, K = 100) with
 * random weights. Skipped unless {@code -Dlocore.bench=true} (it needs minutes on a small machine); prints one
 * line for BENCHMARKS.md. {@code -Dlocore.bench.layers=N} times only the first N layers.
 */
class LocoreBenchmark {
    private static final Logger LOG = LoggerFactory.getLogger(LocoreBenchmark.class);

    @Test
    void baseForward() {
        Assumptions.assumeTrue(Boolean.getBoolean("locore.bench"), "benchmark: run with -Dlocore.bench=true");
        int layers = Integer.getInteger("locore.bench.layers", 12);
        LocoreConfig cfg = LocoreConfig.of(LongformerConfig.base()).withLayersKept(layers);
        Nd4j.getRandom().setSeed(1);
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : LocoreModel.expectedShapes(cfg.longformer()).entrySet()) {
            long[] shape = e.getValue().clone();
            if (shape[0] < 0) shape[0] = 3;
            params.put(e.getKey(), Nd4j.randn(DataType.FLOAT, shape).muli(0.02));
        }
        LocoreModel m = LocoreModel.create(cfg, params);
        int d = 48, k = 100, h = 768;
        LocoreInputs in = new LocoreInputs(Nd4j.randn(DataType.FLOAT, 1, d, h), Nd4j.zeros(DataType.LONG, 1, d),
                Nd4j.zeros(DataType.LONG, 1, d), Nd4j.randn(DataType.FLOAT, 1, 1, h),
                Nd4j.randn(DataType.FLOAT, 1, k, d, h), Nd4j.zeros(DataType.LONG, 1, k, d),
                Nd4j.zeros(DataType.LONG, 1, k, d), Nd4j.randn(DataType.FLOAT, 1, k, 1, h), null);
        long t0 = System.nanoTime();
        LocoreModel.Output first = m.forward(in);
        double firstS = (System.nanoTime() - t0) / 1e9;
        int runs = Integer.getInteger("locore.bench.runs", 2);
        double best = Double.MAX_VALUE;
        for (int r = 0; r < runs; r++) {
            t0 = System.nanoTime();
            m.forward(in);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        assertEquals(5050, first.logits().size(1));
        assertTrue(Double.isFinite(first.logits().sumNumber().doubleValue()));
        String line = String.format("LocoreBenchmark.baseForward: 5120 tokens x 768 x %d layers, batch 1: first %.1f s "
                + "(graph build), best of %d %.2f s, %d cores", layers, firstS, runs, best,
                Runtime.getRuntime().availableProcessors());
        LOG.info(line);
        System.err.println(line);
    }
}
