package org.locore.model.rowops;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Workers}' row splits: every row exactly once, within the worker count, in the blocks asked for. */
class WorkersTest {
    @Test
    void rowBlocksVisitEveryRowOnceInBlocksOfTheGivenSize() {
        // threads, rows, block
        int[][] cases = {{1, 1, 1}, {2, 1, 1}, {2, 7, 3}, {2, 128, 128}, {2, 129, 128}, {3, 1000, 64}, {2, 5, 100},
                {4, 37, 1}, {1, 300, 128}};
        for (int[] c : cases) {
            int threads = c[0];
            int rows = c[1];
            int block = c[2];
            AtomicIntegerArray seen = new AtomicIntegerArray(rows);
            AtomicIntegerArray byWorker = new AtomicIntegerArray(threads);
            Workers.rowBlocks(threads, rows, block, (k, r0, r1) -> {
                assertTrue(k >= 0 && k < threads, "worker index " + k);
                assertTrue(r0 < r1, "empty block [" + r0 + ", " + r1 + ")");
                if (threads > 1) {
                    assertTrue(r1 - r0 <= block, "block [" + r0 + ", " + r1 + ") longer than " + block);
                    assertEquals(0, r0 % block, "block [" + r0 + ", " + r1 + ") not on a boundary");
                } else {
                    assertEquals(rows, r1 - r0, "one worker: all rows in one call");
                }
                byWorker.addAndGet(k, r1 - r0);
                for (int r = r0; r < r1; r++) {
                    seen.incrementAndGet(r);
                }
            });
            int total = 0;
            for (int r = 0; r < rows; r++) {
                assertEquals(1, seen.get(r), "row " + r + " of " + rows + " (block " + block + ")");
            }
            for (int k = 0; k < threads; k++) {
                total += byWorker.get(k);
            }
            assertEquals(rows, total);
        }
    }

    @Test
    void rowBlocksRejectEmptyBlocksAndPassTaskErrorsOn() {
        assertThrows(IllegalArgumentException.class, () -> Workers.rowBlocks(2, 10, 0, (k, r0, r1) -> { }));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Workers.rowBlocks(2, 1000, 10,
                (k, r0, r1) -> {
                    if (r0 == 500) {
                        throw new IllegalStateException("row 500");
                    }
                }));
        assertEquals("row 500", e.getMessage());
    }

    @Test
    void rowsSplitEvenlyIntoOneRangePerWorker() {
        AtomicIntegerArray seen = new AtomicIntegerArray(11);
        AtomicIntegerArray ranges = new AtomicIntegerArray(2);
        Workers.rows(2, 11, (k, r0, r1) -> {
            ranges.incrementAndGet(k);
            assertEquals(k == 0 ? 0 : 6, r0);
            assertEquals(k == 0 ? 6 : 11, r1);
            for (int r = r0; r < r1; r++) {
                seen.incrementAndGet(r);
            }
        });
        for (int r = 0; r < 11; r++) {
            assertEquals(1, seen.get(r));
        }
        assertEquals(1, ranges.get(0));
        assertEquals(1, ranges.get(1));
    }
}
