package org.locore.model.rowops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

/** {@link StridedGemm} on sub-matrices of larger arrays against ND4J's mmul of copied sub-matrices. */
class StridedGemmTest {
    @Test
    void multipliesSubMatricesInPlaceWithEveryTransposition() {
        Nd4j.getRandom().setSeed(3);
        INDArray a = Nd4j.randn(DataType.FLOAT, 20, 30);
        INDArray b = Nd4j.randn(DataType.FLOAT, 25, 40);
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                int m = 5;
                int n = 7;
                int k = 6;
                // A's stored block: rows 2.., cols 3..; B's: rows 4.., cols 9..
                INDArray aBlock = a.get(interval(2, 2 + (ta ? k : m)), interval(3, 3 + (ta ? m : k))).dup();
                INDArray bBlock = b.get(interval(4, 4 + (tb ? n : k)), interval(9, 9 + (tb ? k : n))).dup();
                INDArray expected = (ta ? aBlock.transpose() : aBlock).mmul(tb ? bBlock.transpose() : bBlock);
                INDArray c = Nd4j.ones(DataType.FLOAT, 10, 12);
                StridedGemm.sgemm(ta, tb, m, n, k, 2f, a, 2 * 30 + 3, 30, b, 4 * 40 + 9, 40, 0.5f, c, 12 + 1, 12);
                INDArray got = c.get(interval(1, 1 + m), interval(1, 1 + n));
                double diff = got.sub(expected.mul(2).add(0.5)).amaxNumber().doubleValue();
                assertTrue(diff < 1e-4, "transA " + ta + " transB " + tb + ": max |diff| " + diff);
                // outside the written block C is untouched
                assertEquals(1f, c.getFloat(0, 0));
                assertEquals(1f, c.getFloat(1, 0));
                assertEquals(1f, c.getFloat(1, 1 + n));
            }
        }
    }

    @Test
    void rejectsOutOfRangeBlocksAndViews() {
        INDArray a = Nd4j.zeros(DataType.FLOAT, 4, 4);
        INDArray c = Nd4j.zeros(DataType.FLOAT, 4, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StridedGemm.sgemm(false, false, 4, 4, 4, 1f, a, 1, 4, a, 0, 4, 0f, c, 0, 4));
        assertTrue(e.getMessage().contains("A:"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> StridedGemm.sgemm(false, false, 2, 5, 2, 1f, a, 0, 4, a, 0, 4, 0f, c, 0, 4));
        assertThrows(IllegalArgumentException.class,
                () -> StridedGemm.sgemm(false, false, 2, 2, 2, 1f, a.get(interval(1, 3), interval(0, 4)), 0, 4,
                        a, 0, 4, 0f, c, 0, 4));
        assertThrows(IllegalArgumentException.class,
                () -> StridedGemm.sgemm(false, false, 2, 2, 2, 1f, Nd4j.zeros(DataType.DOUBLE, 4, 4), 0, 4,
                        a, 0, 4, 0f, c, 0, 4));
    }
}
