package org.locore.apps.train;

import org.junit.jupiter.api.Test;
import org.locore.model.train.LearningRateSchedule;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** In-batch recall@k on hand-made scores, and the options' JSON form. */
class InBatchRecallTest {

    @Test
    void recallOfPositivesAmongTheTopK() {
        InBatchRecall r = new InBatchRecall(1, 2, 3);
        // sequence 0: positives at 1 and 3; ranking by score: 1 (0.9), 0 (0.5), 3 (0.4), 2 (0.1)
        // sequence 1: no positive (skipped); sequence 2: positive 2, tied with 0 (earlier position wins)
        r.add(Nd4j.createFromArray(new float[][]{{0.5f, 0.9f, 0.1f, 0.4f}, {1, 2, 3, 4}, {0.7f, 0.1f, 0.7f, 0.2f}}),
                Nd4j.createFromArray(new long[][]{{0, 1, 0, 1}, {0, 0, 0, 0}, {0, 0, 1, 0}}));
        assertEquals(2, r.sequences());
        assertEquals((0.5 + 0.0) / 2, r.recall(0), 1e-12);
        assertEquals((0.5 + 1.0) / 2, r.recall(1), 1e-12);
        assertEquals((1.0 + 1.0) / 2, r.recall(2), 1e-12);
        assertTrue(Double.isNaN(new InBatchRecall(1).recall(0)));
    }

    @Test
    void optionsRoundTripThroughJson() {
        TrainingOptions o = new TrainingOptions(10, 2, 3, new LearningRateSchedule(1e-4, 5), 0.01, 0.9, 0.98, 1e-6,
                0.5, 0.1, 42, 4, 2);
        assertEquals(o, TrainingOptions.fromJson(o.toJson()));
        assertEquals(6, o.examplesPerStep());
        assertThrows(IllegalArgumentException.class, () -> new TrainingOptions(10, 0, 1,
                LearningRateSchedule.constant(1e-4), 0, 0.9, 0.999, 1e-8, 1, 0, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new TrainingOptions(10, 1, 1,
                LearningRateSchedule.constant(1e-4), 0, 0.9, 0.999, 1e-8, 1, 1.0, 0, 0, 1));
    }
}
