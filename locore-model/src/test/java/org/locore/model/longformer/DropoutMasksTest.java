package org.locore.model.longformer;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Inverted dropout with our own masks. */
class DropoutMasksTest {
    @Test
    void inactiveAtInference() {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.var("x", Nd4j.ones(DataType.FLOAT, 4));
        assertSame(x, new DropoutMasks(false, DataType.FLOAT).apply(x, "a", 0.5, 4));
        assertSame(x, new DropoutMasks(true, DataType.FLOAT).apply(x, "b", 0.0, 4));
    }

    @Test
    void masksAreInvertedBernoulli() {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.var("x", Nd4j.ones(DataType.FLOAT, 100, 100));
        DropoutMasks d = new DropoutMasks(true, DataType.FLOAT);
        SDVariable y = d.apply(x, "site", 0.25, 100, 100);
        Map<String, INDArray> feed = new HashMap<>();
        d.feed(feed, new Random(3));
        INDArray out = y.eval(feed);
        int zeros = 0;
        for (float v : out.reshape(-1).toFloatVector()) {
            if (v == 0f) zeros++;
            else assertEquals(1 / 0.75f, v, 1e-6f);
        }
        // 10000 Bernoulli(0.25) draws: mean 2500, standard deviation ~43
        assertTrue(Math.abs(zeros - 2500) < 250, "dropped " + zeros);
        // the gradient flows through the mask: d(sum y)/dx = mask
        SDVariable loss = y.sum("loss");
        sd.setLossVariables(loss);
        INDArray grad = sd.calculateGradients(feed, "x").get("x");
        assertTrue(out.equalsWithEps(grad, 0), "gradient must equal the mask");
    }
}
