package org.locore.apps.train;

import org.locore.model.locore.LocoreModel;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/** Watches a {@link Trainer}: called on the training thread. */
public interface TrainingListener {
    /** Before the first step of this run (also after a resume). */
    default void onStart(LocoreModel model, TrainingOptions options, long firstStep) {
    }

    /** Whether {@link #onStep} needs the parameter updates (costs a copy of every parameter per step). */
    default boolean wantsUpdates() {
        return false;
    }

    /**
     * After every optimizer step.
     *
     * @param gradients the averaged, clipped gradients of the step
     * @param updates   parameter after minus before the step, or null unless {@link #wantsUpdates()}
     */
    void onStep(StepResult result, LocoreModel model, Map<String, INDArray> gradients, Map<String, INDArray> updates);

    /** After the last step. */
    default void onEnd() {
    }
}
