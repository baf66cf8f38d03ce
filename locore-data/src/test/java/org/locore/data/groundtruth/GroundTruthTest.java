package org.locore.data.groundtruth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.testing.Fixtures;
import org.locore.testing.Pickles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GroundTruthTest {
    @TempDir
    Path tmp;

    /** Names of an image list ({@code jpg/NAME.jpg,label,w,h}) without folder and extension. */
    private static List<String> names(String relative) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(Fixtures.path(relative))) {
            if (line.isBlank()) continue;
            String p = line.substring(0, line.indexOf(','));
            out.add(p.substring(p.lastIndexOf('/') + 1, p.lastIndexOf('.')));
        }
        return out;
    }

    private static int sum(GroundTruth g, java.util.function.Function<GroundTruth.Query, int[]> f) {
        return g.queries().stream().mapToInt(q -> f.apply(q).length).sum();
    }

    @Test
    void readsRevisitedOxford() throws IOException {
        GroundTruth g = GroundTruth.read(Fixtures.path("revisitop/gnd_roxford5k.pkl"));
        assertEquals(70, g.numQueries());
        assertEquals(4993, g.numImages());
        assertFalse(g.isGldv2Style());
        // the image lists shipped beside the file are in ground-truth order
        assertEquals(names("revisitop/roxford5k/test_gallery.txt"), g.imlist());
        assertEquals(names("revisitop/roxford5k/test_query.txt"), g.qimlist());
        assertEquals("ashmolean_000283", g.imlist().get(0));
        assertEquals("radcliffe_camera_000031", g.qimlist().get(69));
        GroundTruth.Query q0 = g.queries().get(0);
        assertArrayEquals(new double[]{136.5, 34.1, 648.5, 955.7}, q0.bbx());
        assertEquals(65, q0.easy().length);
        assertEquals(38, q0.hard().length);
        assertEquals(33, q0.junk().length);
        assertEquals(0, q0.ok().length);
        assertArrayEquals(new int[]{30, 69, 296}, java.util.Arrays.copyOf(q0.easy(), 3));
        assertArrayEquals(new int[]{9, 92, 185}, java.util.Arrays.copyOf(q0.hard(), 3));
        assertArrayEquals(new int[]{72, 258, 275}, java.util.Arrays.copyOf(q0.junk(), 3));
        GroundTruth.Query q69 = g.queries().get(69);
        assertArrayEquals(new double[]{0, 0, 685, 1023}, q69.bbx()); // stored as Python ints
        assertEquals(10, q69.easy().length);
        assertEquals(284, q69.hard().length);
        assertEquals(31, q69.junk().length);
        assertArrayEquals(new int[]{683, 2641, 2910}, java.util.Arrays.copyOf(q69.easy(), 3));
        assertEquals(3029, sum(g, GroundTruth.Query::easy));
        assertEquals(2497, sum(g, GroundTruth.Query::hard));
        assertEquals(1356, sum(g, GroundTruth.Query::junk));
    }

    @Test
    void readsRevisitedParis() throws IOException {
        GroundTruth g = GroundTruth.read(Fixtures.path("revisitop/gnd_rparis6k.pkl"));
        assertEquals(70, g.numQueries());
        assertEquals(6322, g.numImages());
        assertEquals(names("revisitop/rparis6k/test_gallery.txt"), g.imlist());
        assertEquals(names("revisitop/rparis6k/test_query.txt"), g.qimlist());
        assertEquals("paris_general_001840", g.imlist().get(0));
        assertEquals("paris_defense_000605", g.qimlist().get(0));
        GroundTruth.Query q0 = g.queries().get(0);
        assertArrayEquals(new double[]{130, 17, 843, 732}, q0.bbx());
        assertEquals(95, q0.easy().length);
        assertEquals(104, q0.hard().length);
        assertEquals(79, q0.junk().length);
        assertArrayEquals(new int[]{85, 148, 210}, java.util.Arrays.copyOf(q0.easy(), 3));
        GroundTruth.Query q69 = g.queries().get(69);
        assertArrayEquals(new double[]{91.3, 235.7, 490.0, 750.7}, q69.bbx());
        assertEquals(11, q69.easy().length);
        assertEquals(182, q69.hard().length);
        assertEquals(105, q69.junk().length);
        assertEquals(6874, sum(g, GroundTruth.Query::easy));
        assertEquals(10350, sum(g, GroundTruth.Query::hard));
        assertEquals(7153, sum(g, GroundTruth.Query::junk));
        int max = g.queries().stream().flatMapToInt(q -> IntStream.concat(IntStream.of(q.easy()),
                IntStream.concat(IntStream.of(q.hard()), IntStream.of(q.junk())))).max().orElseThrow();
        assertEquals(6321, max);
    }

    // ----------------------------------------------------------------------------- small hand-made files

    private static Map<String, Object> query(Object bbx, Object easy, Object hard, Object junk) {
        Map<String, Object> q = new LinkedHashMap<>();
        q.put("bbx", bbx);
        q.put("easy", easy);
        q.put("hard", hard);
        q.put("junk", junk);
        return q;
    }

    private static Map<String, Object> gnd(List<String> imlist, List<String> qimlist, List<?> gnd) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (imlist != null) m.put("imlist", imlist);
        if (qimlist != null) m.put("qimlist", qimlist);
        if (gnd != null) m.put("gnd", gnd);
        return m;
    }

    private Path write(String name, Object value) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, Pickles.dumps(value));
        return p;
    }

    private FormatException fails(Path p) {
        FormatException e = assertThrows(FormatException.class, () -> GroundTruth.read(p));
        assertEquals(p, e.file());
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        return e;
    }

    @Test
    void readsGldv2StyleOkLists() throws IOException {
        Map<String, Object> q0 = new LinkedHashMap<>();
        q0.put("ok", List.of(2, 0));
        Map<String, Object> q1 = new LinkedHashMap<>();
        q1.put("ok", List.of(1));
        Path p = write("gnd_gldv2.pkl", gnd(List.of("a", "b", "c"), List.of("q0", "q1"), List.of(q0, q1)));
        GroundTruth g = GroundTruth.read(p);
        assertTrue(g.isGldv2Style());
        assertArrayEquals(new int[]{2, 0}, g.queries().get(0).ok());
        assertArrayEquals(new int[]{1}, g.queries().get(1).ok());
        assertNull(g.queries().get(0).bbx());
        assertEquals(0, g.queries().get(1).easy().length);
    }

    @Test
    void readsNumpyIndexArraysAsPythonWritesThem() throws Exception {
        String python = Fixtures.python("numpy");
        org.junit.jupiter.api.Assumptions.assumeTrue(python != null,
                "no Python with numpy: ground truth with NumPy arrays cannot be generated, skipped");
        Path p = tmp.resolve("gnd_numpy.pkl");
        Fixtures.runPython(python, String.join("\n",
                "import sys, pickle, numpy as np",
                "g = [{'bbx': np.array([1.5, 2.0, 30.25, 40.0]), 'easy': np.array([3, 0], dtype=np.int64),",
                "      'hard': np.array([], dtype=np.int64), 'junk': np.array([1], dtype=np.int32)},",
                "     {'bbx': [0, 0, 9, 9], 'easy': np.array([2]), 'hard': [1, 3], 'junk': []}]",
                "pickle.dump({'imlist': ['a', 'b', 'c', 'd'], 'qimlist': ['q0', 'q1'], 'gnd': g},",
                "            open(sys.argv[1], 'wb'), protocol=2)"), p.toString());
        GroundTruth g = GroundTruth.read(p);
        assertEquals(List.of("a", "b", "c", "d"), g.imlist());
        assertArrayEquals(new double[]{1.5, 2.0, 30.25, 40.0}, g.queries().get(0).bbx());
        assertArrayEquals(new int[]{3, 0}, g.queries().get(0).easy());
        assertArrayEquals(new int[0], g.queries().get(0).hard());
        assertArrayEquals(new int[]{1}, g.queries().get(0).junk());
        assertArrayEquals(new int[]{2}, g.queries().get(1).easy());
        assertArrayEquals(new int[]{1, 3}, g.queries().get(1).hard());
    }

    @Test
    void rejectsMissingTopLevelKeys() throws IOException {
        List<Object> one = List.of(query(List.of(0.0, 0.0, 1.0, 1.0), List.of(0), List.of(), List.of()));
        assertTrue(fails(write("a.pkl", gnd(null, List.of("q"), one))).problem().contains("'imlist'"));
        assertTrue(fails(write("b.pkl", gnd(List.of("a"), null, one))).problem().contains("'qimlist'"));
        assertTrue(fails(write("c.pkl", gnd(List.of("a"), List.of("q"), null))).problem().contains("'gnd'"));
    }

    @Test
    void rejectsMissingPerQueryKeys() throws IOException {
        Map<String, Object> q = query(List.of(0.0, 0.0, 1.0, 1.0), List.of(0), List.of(), List.of());
        q.remove("junk");
        FormatException e = fails(write("q.pkl", gnd(List.of("a"), List.of("q"), List.of(q))));
        assertTrue(e.problem().contains("'junk'") && e.problem().contains("gnd[0]"), e.problem());
    }

    @Test
    void rejectsGndOfTheWrongLength() throws IOException {
        List<Object> one = List.of(query(List.of(0.0, 0.0, 1.0, 1.0), List.of(0), List.of(), List.of()));
        FormatException e = fails(write("n.pkl", gnd(List.of("a"), List.of("q0", "q1"), one)));
        assertTrue(e.problem().contains("1 entries") && e.problem().contains("2 queries"), e.problem());
    }

    @Test
    void rejectsIndicesOutsideTheImageList() throws IOException {
        List<Object> one = List.of(query(List.of(0.0, 0.0, 1.0, 1.0), List.of(0), List.of(1, 3), List.of()));
        FormatException e = fails(write("r.pkl", gnd(List.of("a", "b", "c"), List.of("q"), one)));
        assertTrue(e.problem().contains("gnd[0]['hard'][1] = 3") && e.problem().contains("[0, 3)"), e.problem());
        List<Object> neg = List.of(query(List.of(0.0, 0.0, 1.0, 1.0), List.of(-1), List.of(), List.of()));
        assertTrue(fails(write("s.pkl", gnd(List.of("a"), List.of("q"), neg))).problem().contains("= -1"));
    }

    @Test
    void rejectsBadBoxesAndNonPickles() throws IOException {
        List<Object> one = List.of(query(List.of(0.0, 1.0), List.of(0), List.of(), List.of()));
        assertTrue(fails(write("b.pkl", gnd(List.of("a"), List.of("q"), one))).problem().contains("bbx"));
        Path text = tmp.resolve("text.pkl");
        Files.writeString(text, "imlist,qimlist\n");
        fails(text);
        Path list = write("list.pkl", List.of(1, 2));
        assertTrue(fails(list).problem().contains("dict"));
        byte[] real = Files.readAllBytes(Fixtures.path("revisitop/gnd_roxford5k.pkl"));
        Path cut = tmp.resolve("cut.pkl");
        Files.write(cut, java.util.Arrays.copyOf(real, real.length / 2));
        assertTrue(fails(cut).problem().contains("truncated"), fails(cut).problem());
    }
}
