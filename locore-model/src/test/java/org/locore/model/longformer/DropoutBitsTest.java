package org.locore.model.longformer;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link DropoutBits}: the same decisions as one {@code nextDouble() < p} per element, and the generator left where
 * those draws leave it, for the fast path (plain {@code Random}), the one-by-one path (small sites, subclasses) and
 * odd sizes; mask values as the graph's float masks.
 */
class DropoutBitsTest {
    private static boolean[] reference(Random rnd, int size, double p) {
        boolean[] kept = new boolean[size];
        for (int i = 0; i < size; i++) kept[i] = !(rnd.nextDouble() < p);
        return kept;
    }

    @Test
    void sameDecisionsAndGeneratorStateAsOneByOne() {
        for (int size : new int[]{0, 1, 63, 64, 65, 1000, 100_003}) {
            for (double p : new double[]{0.0, 0.1, 0.5, 0.9, 1e-9}) {
                for (long seed : new long[]{0, 1, -7, 123456789L}) {
                    Random a = new Random(seed);
                    Random b = new Random(seed);
                    a.nextInt(); // a generator in mid-stream
                    b.nextInt();
                    boolean[] ref = reference(a, size, p);
                    DropoutBits bits = DropoutBits.draw(b, size, p);
                    assertEquals(size, bits.size());
                    for (int i = 0; i < size; i++) {
                        assertEquals(ref[i], bits.kept(i), "size " + size + " p " + p + " seed " + seed + " at " + i);
                    }
                    for (int k = 0; k < 5; k++) {
                        assertEquals(a.nextLong(), b.nextLong(), "generator state after size " + size + " p " + p);
                    }
                }
            }
        }
    }

    @Test
    void subclassesAreDrawnOneByOne() {
        class Counting extends Random {
            int calls;

            Counting(long seed) {
                super(seed);
            }

            @Override
            public double nextDouble() {
                calls++;
                return super.nextDouble();
            }
        }
        Counting c = new Counting(4);
        boolean[] ref = reference(new Random(4), 5000, 0.3);
        DropoutBits bits = DropoutBits.draw(c, 5000, 0.3);
        assertEquals(5000, c.calls);
        for (int i = 0; i < 5000; i++) assertEquals(ref[i], bits.kept(i));
    }

    @Test
    void stateIsReadBackExactly() {
        Random a = new Random(42);
        Random b = new Random(42);
        for (int i = 0; i < 17; i++) {
            a.nextInt();
            b.nextInt();
        }
        long s = DropoutBits.stateOf(a);
        // a generator whose seed scrambles to that state continues as the original, which is left unchanged
        Random c = new Random(s ^ 0x5DEECE66DL);
        for (int i = 0; i < 5; i++) {
            long expected = b.nextLong();
            assertEquals(expected, a.nextLong());
            assertEquals(expected, c.nextLong());
        }
    }

    @Test
    void maskValuesAreTheGraphsFloats() {
        double p = 0.1;
        DropoutBits bits = DropoutBits.draw(new Random(3), 200, p);
        float keep = (float) (1.0 / (1.0 - p));
        assertEquals(keep, bits.keepValue(), 0.0);
        INDArray m = bits.array(50, DataType.DOUBLE, 10, 10);
        assertArrayEquals(new long[]{10, 10}, m.shape());
        int dropped = 0;
        for (int i = 0; i < 100; i++) {
            double v = m.getDouble(i / 10, i % 10);
            assertEquals(bits.kept(50 + i) ? (double) keep : 0.0, v, 0.0);
            if (v == 0) dropped++;
        }
        assertTrue(dropped > 0 && dropped < 40, "dropped " + dropped);
        assertThrows(IndexOutOfBoundsException.class, () -> bits.floats(150, 51));
        assertThrows(IllegalArgumentException.class, () -> DropoutBits.draw(new Random(1), 10, 1.0));
    }
}
