package org.locore.model.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A constant learning rate after an optional linear warm-up, as HF {@code get_constant_schedule_with_warmup}:
 * the update of step {@code s} (0-based) uses {@code lr * s / warmup} while {@code s < warmup}, then {@code lr}.
 * It is a pure function of the step, saved with a checkpoint as JSON ({@link #toJson}/{@link #fromJson}), so a
 * resumed run continues the same schedule (unlike DL4J's {@code RampSchedule}, which cannot be reloaded).
 *
 * @param baseLr      the constant learning rate
 * @param warmupSteps steps of linear warm-up (0 = none)
 */
public record LearningRateSchedule(double baseLr, long warmupSteps) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Validates the values. */
    public LearningRateSchedule {
        if (!(baseLr > 0) || !Double.isFinite(baseLr)) {
            throw new IllegalArgumentException("learning rate must be positive, got " + baseLr);
        }
        if (warmupSteps < 0) throw new IllegalArgumentException("warm-up steps must be >= 0, got " + warmupSteps);
    }

    /** A constant rate without warm-up. */
    public static LearningRateSchedule constant(double lr) {
        return new LearningRateSchedule(lr, 0);
    }

    /** The learning rate of the update of step {@code step} (0-based). */
    public double lr(long step) {
        if (step < warmupSteps) return baseLr * step / warmupSteps;
        return baseLr;
    }

    /** {@code {"type": "constant_with_warmup", "lr": ..., "warmup_steps": ...}}. */
    public ObjectNode toJson() {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "constant_with_warmup");
        n.put("lr", baseLr);
        n.put("warmup_steps", warmupSteps);
        return n;
    }

    /** Reads what {@link #toJson} wrote. */
    public static LearningRateSchedule fromJson(JsonNode n) {
        if (n == null || !"constant_with_warmup".equals(n.path("type").asText())
                || !n.path("lr").isNumber() || !n.path("warmup_steps").canConvertToLong()) {
            throw new IllegalArgumentException("not a learning-rate schedule: " + n);
        }
        return new LearningRateSchedule(n.get("lr").asDouble(), n.get("warmup_steps").asLong());
    }
}
