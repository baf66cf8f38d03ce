package org.locore.apps;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ProgressTest {
    @Test
    void reportsCountRateAndEta() {
        AtomicLong now = new AtomicLong(0);
        Progress p = new Progress(LoggerFactory.getLogger(ProgressTest.class), "extract", "images", 1000, 5, now::get);
        now.set(10_000_000_000L);
        p.advance(250);
        assertEquals("extract: 250/1,000 images (25.0%) 25.00 images/s, elapsed 10.0s, ETA 30.0s", p.line(now.get()));
        p.setExtra("loss 0.5");
        now.set(100_000_000_000L);
        p.advance(750);
        assertEquals("extract: 1,000/1,000 images (100.0%) 10.00 images/s, elapsed 1m40s, loss 0.5", p.line(now.get()));
        assertEquals(1000, p.done());
    }

    @Test
    void unknownTotalAndDurations() {
        AtomicLong now = new AtomicLong(0);
        Progress p = new Progress(LoggerFactory.getLogger(ProgressTest.class), "train", "steps", 0, 5, now::get);
        now.set(2_000_000_000L);
        p.advance(4);
        assertEquals("train: 4 steps 2.00 steps/s, elapsed 2.0s", p.line(now.get()));
        assertEquals("1h01m01s", Progress.duration(3661));
    }
}
