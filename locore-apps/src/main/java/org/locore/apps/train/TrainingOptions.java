package org.locore.apps.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.model.train.LearningRateSchedule;

/**
 * Hyper-parameters of a training run; defaults ({@link #released()}) are the released LOCORE recipe (SPEC section
 * 8) except the step count and batch geometry, which depend on the data.
 *
 * @param steps           optimizer steps in total
 * @param batch           sequences per forward/backward pass
 * @param accumulate      passes whose gradients are averaged into one optimizer step
 * @param schedule        learning rate (constant after an optional linear warm-up)
 * @param weightDecay     decoupled weight decay
 * @param beta1           Adam beta1
 * @param beta2           Adam beta2
 * @param eps             Adam epsilon
 * @param clip            global gradient-norm limit (0 = no clipping)
 * @param dropout         hidden and attention dropout probability (0 = off)
 * @param seed            seed of data order, gallery shuffles, dropout and random initialisation
 * @param checkpointEvery steps between checkpoints (0 = only at the end)
 * @param keep            checkpoints kept (the newest)
 */
public record TrainingOptions(long steps, int batch, int accumulate, LearningRateSchedule schedule,
                              double weightDecay, double beta1, double beta2, double eps, double clip,
                              double dropout, long seed, long checkpointEvery, int keep) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Validates the values. */
    public TrainingOptions {
        if (steps < 1) throw new IllegalArgumentException("--steps must be positive, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (accumulate < 1) throw new IllegalArgumentException("--accumulate must be positive, got " + accumulate);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("--weight-decay must be >= 0, got " + weightDecay);
        if (!(clip >= 0)) throw new IllegalArgumentException("--clip must be >= 0, got " + clip);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("--dropout must lie in [0, 1), got " + dropout);
        if (checkpointEvery < 0) throw new IllegalArgumentException("--checkpoint-every must be >= 0");
        if (keep < 1) throw new IllegalArgumentException("--keep must be positive, got " + keep);
    }

    /** The released recipe for {@code steps} steps: batch 8 x 4 accumulation (one device's share), lr 5e-5. */
    public static TrainingOptions released(long steps) {
        return new TrainingOptions(steps, 8, 4, LearningRateSchedule.constant(5e-5), 0, 0.9, 0.999, 1e-8, 1.0,
                0.1, 0, 0, 3);
    }

    /** Sequences per optimizer step. */
    public long examplesPerStep() {
        return (long) batch * accumulate;
    }

    /** The options as JSON (stored in every checkpoint). */
    public ObjectNode toJson() {
        ObjectNode n = JSON.createObjectNode();
        n.put("steps", steps);
        n.put("batch", batch);
        n.put("accumulate", accumulate);
        n.set("schedule", schedule.toJson());
        n.put("weight_decay", weightDecay);
        n.put("beta1", beta1);
        n.put("beta2", beta2);
        n.put("eps", eps);
        n.put("clip", clip);
        n.put("dropout", dropout);
        n.put("seed", seed);
        n.put("checkpoint_every", checkpointEvery);
        n.put("keep", keep);
        return n;
    }

    /** Reads what {@link #toJson} wrote. */
    public static TrainingOptions fromJson(JsonNode n) {
        return new TrainingOptions(n.path("steps").asLong(), n.path("batch").asInt(), n.path("accumulate").asInt(),
                LearningRateSchedule.fromJson(n.get("schedule")), n.path("weight_decay").asDouble(),
                n.path("beta1").asDouble(), n.path("beta2").asDouble(), n.path("eps").asDouble(),
                n.path("clip").asDouble(), n.path("dropout").asDouble(), n.path("seed").asLong(),
                n.path("checkpoint_every").asLong(), n.path("keep").asInt());
    }
}
