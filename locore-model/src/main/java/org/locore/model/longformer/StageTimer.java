package org.locore.model.longformer;

import java.util.LinkedHashMap;
import java.util.Map;

/** Wall-clock seconds per named stage, accumulated lap by lap (a profile of the eager passes). Not thread-safe. */
final class StageTimer {
    private final Map<String, Double> seconds = new LinkedHashMap<>();
    private long mark = System.nanoTime();

    /** Starts timing from now without recording. */
    void reset() {
        mark = System.nanoTime();
    }

    /** Adds the time since the last lap (or reset) to {@code stage}. */
    void lap(String stage) {
        long now = System.nanoTime();
        seconds.merge(stage, (now - mark) / 1e9, Double::sum);
        mark = now;
    }

    /** A copy of the accumulated seconds by stage, in first-seen order. */
    Map<String, Double> seconds() {
        return new LinkedHashMap<>(seconds);
    }
}
