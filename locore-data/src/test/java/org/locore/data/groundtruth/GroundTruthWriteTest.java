package org.locore.data.groundtruth;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link GroundTruth#write}: what it writes is read back by {@link GroundTruth#read} and by Python's pickle. */
class GroundTruthWriteTest {
    @TempDir
    Path tmp;

    private static void assertSame(GroundTruth expected, GroundTruth actual) {
        assertEquals(expected.imlist(), actual.imlist());
        assertEquals(expected.qimlist(), actual.qimlist());
        assertEquals(expected.numQueries(), actual.numQueries());
        for (int q = 0; q < expected.numQueries(); q++) {
            GroundTruth.Query e = expected.queries().get(q);
            GroundTruth.Query a = actual.queries().get(q);
            assertArrayEquals(e.bbx(), a.bbx(), "bbx of " + q);
            assertArrayEquals(e.easy(), a.easy(), "easy of " + q);
            assertArrayEquals(e.hard(), a.hard(), "hard of " + q);
            assertArrayEquals(e.junk(), a.junk(), "junk of " + q);
            assertArrayEquals(e.ok(), a.ok(), "ok of " + q);
        }
    }

    @Test
    void realRevisitedOxfordRoundTrips() throws IOException {
        GroundTruth original = GroundTruth.read(Fixtures.path("revisitop/gnd_roxford5k.pkl"));
        Path f = tmp.resolve("gnd_copy.pkl");
        original.write(f);
        GroundTruth back = GroundTruth.read(f);
        assertSame(original, back);
        assertFalse(back.isGldv2Style());
    }

    @Test
    void revisitedStyleWithLargeIndicesEmptyListsAndUnicodeNames() throws IOException {
        GroundTruth g = new GroundTruth(List.of("a", "b/ü", "c", "d"), List.of("q0", "q1"), List.of(
                new GroundTruth.Query(new double[]{0.5, 1, 300.25, 70000}, new int[]{3, 0}, new int[0], new int[]{2},
                        new int[0]),
                new GroundTruth.Query(new double[]{-1, 0, 1e9, 2}, new int[0], new int[]{1}, new int[0], new int[0])));
        Path f = tmp.resolve("gnd_small.pkl");
        g.write(f);
        assertSame(g, GroundTruth.read(f));
    }

    @Test
    void gldv2StyleWritesOkLists() throws IOException {
        int big = 70_000;
        List<String> names = java.util.stream.IntStream.range(0, big + 1).mapToObj(i -> "i" + i).toList();
        GroundTruth g = new GroundTruth(names, List.of("q0", "q1"), List.of(
                new GroundTruth.Query(null, new int[0], new int[0], new int[0], new int[]{5, big, 255, 256}),
                new GroundTruth.Query(null, new int[0], new int[0], new int[0], new int[]{0})));
        Path f = tmp.resolve("gnd_val.pkl");
        g.write(f);
        GroundTruth back = GroundTruth.read(f);
        assertTrue(back.isGldv2Style());
        assertNull(back.queries().get(0).bbx());
        assertSame(g, back);
    }

    @Test
    void revisitedQueryWithoutBoxIsRefused() {
        GroundTruth g = new GroundTruth(List.of("a"), List.of("q"),
                List.of(new GroundTruth.Query(null, new int[]{0}, new int[0], new int[0], new int[0])));
        assertThrows(IllegalArgumentException.class, () -> g.write(tmp.resolve("x.pkl")));
        assertFalse(Files.exists(tmp.resolve("x.pkl")));
    }

    @Test
    void pythonReadsItWithoutNumpy() throws Exception {
        String python = Fixtures.python();
        Assumptions.assumeTrue(python != null, "no python3: skipping the pickle cross-check");
        GroundTruth g = new GroundTruth(List.of("g0", "g1", "g2"), List.of("q0"), List.of(
                new GroundTruth.Query(new double[]{1.5, 2, 30, 40}, new int[]{2}, new int[]{0, 1}, new int[0],
                        new int[0])));
        Path f = tmp.resolve("gnd_py.pkl");
        g.write(f);
        String out = Fixtures.runPython(python, String.join("\n",
                "import sys, pickle",
                "sys.modules['numpy'] = None  # importing numpy now fails: the pickle must not need it",
                "d = pickle.load(open(sys.argv[1], 'rb'))",
                "g = d['gnd'][0]",
                "assert type(g['easy']) is list and type(g['bbx'][0]) is float, g",
                "print(d['imlist'], d['qimlist'], g['bbx'], g['easy'], g['hard'], g['junk'])"), f.toString());
        assertEquals("['g0', 'g1', 'g2'] ['q0'] [1.5, 2.0, 30.0, 40.0] [2] [0, 1] []", out.strip());
    }
}
