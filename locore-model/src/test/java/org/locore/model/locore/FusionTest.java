package org.locore.model.locore;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Score fusion, with values worked out by hand. */
class FusionTest {
    @Test
    void releasedRecipe() {
        Fusion f = Fusion.released();
        assertEquals(0.5, f.alpha(), 0);
        assertEquals(0.1, f.temperature(), 0);
        // 0.5 * 0.8 + 0.5 * sigmoid(0) = 0.4 + 0.25
        assertEquals(0.65, f.fuse(0.8, 0.0), 1e-15);
        // 0.5 * 0.8 + 0.5 * sigmoid(1) = 0.4 + 0.5 / (1 + e^-1)
        assertEquals(0.4 + 0.5 / (1 + Math.exp(-1)), f.fuse(0.8, 10.0), 1e-15);
    }

    @Test
    void extremes() {
        assertEquals(0.3, new Fusion(1.0, 0.5).fuse(0.3, 123.0), 0);
        assertEquals(1 / (1 + Math.exp(-0.7 * 2)), new Fusion(0.0, 0.7).fuse(0.9, 2.0), 1e-15);
    }
}
