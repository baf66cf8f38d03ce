package org.locore.data.shortlist;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShortlistTest {
    @Test
    void holdsRowsAndCopiesItsInput() {
        double[][] sims = {{0.9, 0.5}, {0.8, 0.1}, {0.3, 0.2}};
        int[][] ids = {{4, 1}, {0, 2}, {3, 3}};
        Shortlist s = Shortlist.of(sims, ids);
        sims[0][0] = 7;
        ids[0][0] = 9;
        assertEquals(3, s.numQueries());
        assertEquals(2, s.length());
        assertEquals(0.9, s.similarity(0, 0));
        assertEquals(4, s.id(0, 0));
        assertEquals(2, s.id(1, 1));
        assertArrayEquals(new int[]{3, 3}, s.ids(2));
        assertArrayEquals(new double[]{0.8, 0.1}, s.similarities(1));
        s.ids(1)[0] = 99;
        assertEquals(0, s.id(1, 0));
        assertEquals(4, s.maxId());
        assertEquals(s, Shortlist.ofFlat(3, 2, new double[]{0.9, 0.5, 0.8, 0.1, 0.3, 0.2}, new int[]{4, 1, 0, 2, 3, 3}));
        assertThrows(IndexOutOfBoundsException.class, () -> s.id(3, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> s.similarity(0, 2));
    }

    @Test
    void validatesItsInput() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Shortlist.of(new double[][]{{1, 0.5}, {1}}, new int[][]{{0, 1}, {2}}));
        assertTrue(e.getMessage().contains("query 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Shortlist.of(new double[][]{{1}}, new int[][]{{0}, {1}}));
        e = assertThrows(IllegalArgumentException.class,
                () -> Shortlist.ofFlat(1, 2, new double[]{1, 0.5}, new int[]{0, -3}));
        assertTrue(e.getMessage().contains("position 1") && e.getMessage().contains("-3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Shortlist.ofFlat(1, 2, new double[]{1, Double.NaN}, new int[]{0, 1}));
        assertThrows(IllegalArgumentException.class, () -> Shortlist.ofFlat(2, 2, new double[3], new int[4]));
        assertEquals(0, Shortlist.of(new double[0][], new int[0][]).numQueries());
    }
}
