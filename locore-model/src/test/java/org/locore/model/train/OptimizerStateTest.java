package org.locore.model.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AdamW against a hand computation, its state surviving save/load bit for bit, clipping and the schedule. */
class OptimizerStateTest {

    private static Map<String, INDArray> params() {
        Map<String, INDArray> p = new LinkedHashMap<>();
        p.put("a", Nd4j.createFromArray(0.5f, -1.0f, 2.0f));
        p.put("b", Nd4j.createFromArray(new float[][]{{0.25f, 0.75f}}));
        return p;
    }

    private static Map<String, INDArray> grads(int s) {
        Map<String, INDArray> g = new LinkedHashMap<>();
        g.put("a", Nd4j.createFromArray(0.1f * (s + 1), -0.2f, 0.05f * s));
        g.put("b", Nd4j.createFromArray(new float[][]{{-0.3f, 0.4f / (s + 1)}}));
        return g;
    }

    @Test
    void matchesHandComputedAdamW() {
        Map<String, INDArray> p = params();
        AdamW opt = new AdamW(0.9, 0.999, 1e-8, 0.1);
        double x = 0.5, m = 0, v = 0;
        for (int s = 0; s < 3; s++) {
            double lr = 0.01;
            opt.update(p, grads(s), lr);
            double g = 0.1 * (s + 1);
            x -= lr * 0.1 * x;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            int t = s + 1;
            x -= lr / (1 - Math.pow(0.9, t)) * m / (Math.sqrt(v) / Math.sqrt(1 - Math.pow(0.999, t)) + 1e-8);
        }
        assertEquals(x, p.get("a").getDouble(0), 1e-6);
        assertEquals(3, opt.step());
    }

    @Test
    void stateSurvivesSaveAndLoadBitForBit(@TempDir Path dir) throws IOException {
        Map<String, INDArray> straight = params();
        AdamW a = new AdamW(0.9, 0.999, 1e-6, 0.01);
        for (int s = 0; s < 4; s++) a.update(straight, grads(s), 1e-2);

        Map<String, INDArray> resumed = params();
        AdamW b = new AdamW(0.9, 0.999, 1e-6, 0.01);
        for (int s = 0; s < 2; s++) b.update(resumed, grads(s), 1e-2);
        Path f = dir.resolve("opt.safetensors");
        b.save(f);
        AdamW c = new AdamW(0.9, 0.999, 1e-6, 0.01);
        c.load(f, resumed);
        assertEquals(2, c.step());
        for (int s = 2; s < 4; s++) c.update(resumed, grads(s), 1e-2);
        for (String n : straight.keySet()) {
            assertArrayEquals(straight.get(n).toFloatVector(), resumed.get(n).toFloatVector(), 0f, n);
        }
    }

    @Test
    void loadRejectsStateOfOtherParameters(@TempDir Path dir) throws IOException {
        Map<String, INDArray> p = params();
        AdamW a = new AdamW(0.9, 0.999, 1e-6, 0);
        a.update(p, grads(0), 1e-3);
        Path f = dir.resolve("opt.safetensors");
        a.save(f);
        Map<String, INDArray> other = new LinkedHashMap<>();
        other.put("a", Nd4j.zeros(DataType.FLOAT, 4));
        other.put("b", Nd4j.zeros(DataType.FLOAT, 1, 2));
        FormatException e = assertThrows(FormatException.class, () -> new AdamW(0.9, 0.999, 1e-6, 0).load(f, other));
        assertTrue(e.getMessage().contains("exp_avg/a") && e.getMessage().contains(f.toString()), e.getMessage());
        Path plain = dir.resolve("plain.safetensors");
        Safetensors.write(plain, List.of(Tensor.ofFloats("x", new long[]{1}, new float[]{1})));
        assertThrows(FormatException.class, () -> new AdamW(0.9, 0.999, 1e-6, 0).load(plain, p));
    }

    @Test
    void clipsTheGlobalNorm() {
        Map<String, INDArray> g = new LinkedHashMap<>();
        g.put("a", Nd4j.createFromArray(3f, 0f));
        g.put("b", Nd4j.createFromArray(4f));
        assertEquals(5.0, GradientClipping.clip(g, 1.0), 1e-6);
        assertEquals(1.0, GradientClipping.globalNorm(g), 1e-5);
        assertEquals(0.6, g.get("a").getDouble(0), 1e-6);
        Map<String, INDArray> small = new LinkedHashMap<>();
        small.put("a", Nd4j.createFromArray(0.3f, 0.4f));
        assertEquals(0.5, GradientClipping.clip(small, 1.0), 1e-6);
        assertEquals(0.3f, small.get("a").getFloat(0), 0f);
    }

    @Test
    void scheduleWarmsUpAndSurvivesJson() {
        LearningRateSchedule s = new LearningRateSchedule(1e-3, 4);
        assertEquals(0.0, s.lr(0));
        assertEquals(0.5e-3, s.lr(2), 1e-15);
        assertEquals(1e-3, s.lr(4));
        assertEquals(1e-3, s.lr(1000));
        LearningRateSchedule back = LearningRateSchedule.fromJson(s.toJson());
        assertEquals(s, back);
        for (int i = 0; i < 10; i++) assertEquals(s.lr(i), back.lr(i));
        assertEquals(2e-5, LearningRateSchedule.constant(2e-5).lr(0));
        assertThrows(IllegalArgumentException.class, () -> LearningRateSchedule.fromJson(s.toJson().put("type", "ramp")));
        assertThrows(IllegalArgumentException.class, () -> new LearningRateSchedule(-1, 0));
    }
}
