package org.locore.apps.extract;

import org.junit.jupiter.api.Test;
import org.locore.model.vit.DetectorOutput;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The row layout of {@link Extractor#localRows}: order, patch centres, padding. */
class ExtractorTest {

    /** A 2 x 3 grid (patch 14, input 28 x 42) with 2-dimensional descriptors equal to (id, -id). */
    private static DetectorOutput grid() {
        float[] w = {0.5f, 3f, 1f, 2f, 0.25f, 2f};
        float[] d = new float[12];
        for (int i = 0; i < 6; i++) {
            d[2 * i] = i;
            d[2 * i + 1] = -i;
        }
        return new DetectorOutput(Nd4j.createFromArray(d).reshape(6, 2), w);
    }

    @Test
    void rowsAreSortedByWeightWithPatchCentresOverTheResizedImage() {
        float[] rows = Extractor.localRows(grid(), 2, 3, 14, 4);
        int width = 7;
        assertEquals(4 * width, rows.length);
        // weights 3 (id 1), 2 (id 3), 2 (id 5, tie: lower id first), 1 (id 2)
        int[] ids = {1, 3, 5, 2};
        float[] weights = {3f, 2f, 2f, 1f};
        for (int r = 0; r < 4; r++) {
            int id = ids[r];
            float[] expected = {(id / 3 * 14 + 7) / 28f, (id % 3 * 14 + 7) / 42f, 0f, 0f, weights[r], id, -id};
            float[] got = new float[width];
            System.arraycopy(rows, r * width, got, 0, width);
            assertArrayEquals(expected, got, "row " + r);
        }
    }

    @Test
    void imagesWithFewerPatchesThanKArePaddedWithMaskOne() {
        float[] rows = Extractor.localRows(grid(), 2, 3, 14, 8);
        for (int r = 6; r < 8; r++) {
            for (int c = 0; c < 7; c++) {
                assertEquals(c == 3 ? 1f : 0f, rows[r * 7 + c], "row " + r + " col " + c);
            }
        }
        assertEquals(0f, rows[5 * 7 + 3], "last real row is not padding");
        assertArrayEquals(Extractor.paddingRows(2, 2), java.util.Arrays.copyOfRange(rows, 6 * 7, 8 * 7));
    }

    @Test
    void gridMustMatchTheTokenCount() {
        assertThrows(IllegalArgumentException.class, () -> Extractor.localRows(grid(), 3, 3, 14, 4));
    }
}
