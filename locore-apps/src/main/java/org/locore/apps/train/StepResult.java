package org.locore.apps.train;

/**
 * What one optimizer step did.
 *
 * @param step         the step number (0-based)
 * @param loss         mean token cross-entropy over the step's passes
 * @param gradNorm     global gradient norm before clipping
 * @param learningRate the learning rate used
 * @param recallAt1    in-batch recall@1 (mean over sequences with positives; NaN when none has any)
 * @param recallAt5    in-batch recall@5
 * @param recallAt10   in-batch recall@10
 * @param examples     training examples consumed after this step (over the whole run)
 * @param seconds      wall time of the step
 */
public record StepResult(long step, double loss, double gradNorm, double learningRate, double recallAt1,
                         double recallAt5, double recallAt10, long examples, double seconds) {
}
