package org.locore.model.locore;

import org.junit.jupiter.api.Test;

import java.io.IOException;

/**
 * Parity with {@code locore/locore_thin_real.*}: the real sequence geometry (D = 48, K = 100, 5050 tokens padded
 * to 5120, window 512, 150 global tokens) on a thin one-layer encoder.
 */
class LocoreThinRealTest {
    @Test
    void forwardMatchesReference() throws IOException {
        LocoreModelTest.checkForward("locore/locore_thin_real");
    }
}
