package org.locore.model.locore;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Token positions and masks of LOCORE sequences, derived by hand from the layout rules. */
class SequenceLayoutTest {
    @Test
    void releasedGeometriesFit5120Positions() {
        SequenceLayout l = new SequenceLayout(48, 100, 512, true);
        assertEquals(50, l.blockSize());
        assertEquals(5050, l.tokens());
        assertEquals(5120, l.paddedLength());
        assertEquals(150, Arrays.stream(l.globalMask()).sum());
        assertEquals(5120, new SequenceLayout(98, 50, 512, true).paddedLength());
        assertEquals(5120, new SequenceLayout(23, 200, 512, true).paddedLength());
    }

    @Test
    void positionsOfBlocks() {
        SequenceLayout l = new SequenceLayout(5, 7, 16, true);
        assertEquals(56, l.tokens());
        assertEquals(64, l.paddedLength());
        assertEquals(0, l.globalPosition(0));
        assertEquals(1, l.localPosition(0, 0));
        assertEquals(6, l.sepPosition(0));
        assertEquals(7, l.globalPosition(1));
        assertEquals(12, l.localPosition(1, 4));
        assertEquals(55, l.sepPosition(7));
    }

    @Test
    void masks() {
        SequenceLayout l = new SequenceLayout(2, 2, 8, true);
        long[] q = {0, 1};
        long[][] g = {{1, 0}, {0, 0}};
        // blocks [G L L S] x 3 = 12 tokens, padded to 16
        assertEquals("[1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]", Arrays.toString(l.attentionMask(q, g)));
        assertEquals("[1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]", Arrays.toString(l.globalMask()));
        SequenceLayout noQuery = new SequenceLayout(2, 2, 8, false);
        assertEquals("[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]", Arrays.toString(noQuery.globalMask()));
        assertEquals(3, noQuery.globalSlots());
        assertEquals(6, l.globalSlots());
    }
}
