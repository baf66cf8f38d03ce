package org.locore.data.shortlist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.testing.Fixtures;
import org.locore.testing.Pickles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ShortlistFileTest {
    private static final Map<String, ShortlistFile.Format> FIXTURES = Map.of(
            "pickles/nn_torch.pkl", ShortlistFile.Format.TORCH_PICKLE,
            "pickles/nn_numpy.pkl", ShortlistFile.Format.NUMPY_PICKLE,
            "pickles/nn_torchsave.pt", ShortlistFile.Format.TORCH_ZIP);

    @TempDir
    Path tmp;

    private static JsonNode expected() throws IOException {
        return new ObjectMapper().readTree(Fixtures.path("pickles/pickles.json").toFile());
    }

    /** Asserts that a shortlist holds exactly the {@code nn} array of pickles.json. */
    private static void assertEqualsJson(JsonNode nn, Shortlist s, String what) {
        assertEquals(nn.get(0).size(), s.numQueries(), what + " queries");
        assertEquals(nn.get(0).get(0).size(), s.length(), what + " length");
        for (int q = 0; q < s.numQueries(); q++) {
            for (int j = 0; j < s.length(); j++) {
                assertEquals(nn.get(0).get(q).get(j).asDouble(), s.similarity(q, j), 0.0, what + " sim " + q + "," + j);
                assertEquals(nn.get(1).get(q).get(j).asDouble(), s.id(q, j), 0.0, what + " id " + q + "," + j);
            }
        }
    }

    @Test
    void allThreeFixtureLayoutsHoldTheJsonValues() throws IOException {
        JsonNode json = expected();
        assertEquals(List.of(2, 3, 10), List.of(json.get("shape").get(0).asInt(), json.get("shape").get(1).asInt(),
                json.get("shape").get(2).asInt()));
        for (Map.Entry<String, ShortlistFile.Format> f : FIXTURES.entrySet()) {
            Path p = Fixtures.path(f.getKey());
            assertEquals(f.getValue(), ShortlistFile.detect(p), f.getKey());
            Shortlist s = ShortlistFile.read(p);
            assertEqualsJson(json.get("nn"), s, f.getKey());
            assertEquals(s, ShortlistFile.read(p, 48)); // the largest id is 47
        }
        Shortlist s = ShortlistFile.read(Fixtures.path("pickles/nn_numpy.pkl"));
        assertArrayEquals(new int[]{2, 9, 14, 15, 32, 5, 8, 18, 37, 44}, s.ids(0));
        assertEquals(47, s.maxId());
    }

    @Test
    void writesAPickleThatReadsBack() throws IOException {
        Shortlist s = Shortlist.of(new double[][]{{0.9, 0.5, -0.25}, {1.0, 0.75, 0.125}},
                new int[][]{{7, 0, 123456}, {3, 2, 1}});
        Path p = tmp.resolve("sub/nn_out.pkl");
        ShortlistFile.write(p, s);
        assertEquals(ShortlistFile.Format.NUMPY_PICKLE, ShortlistFile.detect(p));
        assertEquals(s, ShortlistFile.read(p));
        // overwriting keeps no temporary files behind
        ShortlistFile.write(p, ShortlistFile.read(Fixtures.path("pickles/nn_torch.pkl")));
        assertEqualsJson(expected().get("nn"), ShortlistFile.read(p), "rewritten");
        try (var files = Files.list(p.getParent())) {
            assertEquals(List.of(p), files.toList());
        }
    }

    @Test
    void writtenPickleLoadsInPythonWithNumpy() throws Exception {
        String python = Fixtures.python("numpy");
        assumeTrue(python != null, "no Python with numpy: reading the written pickle back in Python skipped");
        Shortlist s = ShortlistFile.read(Fixtures.path("pickles/nn_torchsave.pt"));
        Path p = tmp.resolve("nn_written.pkl");
        ShortlistFile.write(p, s);
        String out = Fixtures.runPython(python, String.join("\n",
                "import sys, pickle, json, numpy as np",
                "a = pickle.load(open(sys.argv[1], 'rb'))",
                "ref = np.array(json.load(open(sys.argv[2]))['nn'], dtype=np.float64)",
                "assert isinstance(a, np.ndarray), type(a)",
                "print(a.dtype, a.shape, a.flags['C_CONTIGUOUS'], bool((a == ref).all()))"),
                p.toString(), Fixtures.path("pickles/pickles.json").toString());
        assertEquals("float64 (2, 3, 10) True True", out.strip().lines().reduce((a, b) -> b).orElse(""));
    }

    // ------------------------------------------------------------------------------ broken shortlists

    private static FormatException fails(Path file, String expect, Executable read) {
        FormatException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(FormatException.class, read));
        assertEquals(file, e.file());
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.problem().contains(expect), "expected '" + expect + "' in: " + e.problem());
        return e;
    }

    @Test
    void rejectsIdsOutsideTheGallery() throws IOException {
        Path p = Fixtures.path("pickles/nn_torch.pkl");
        // query 1, position 5 holds id 45; query 2, position 4 holds 47
        fails(p, "query 1, position 5: gallery id 45 is outside [0, 45)", () -> ShortlistFile.read(p, 45));
        fails(p, "query 2, position 4: gallery id 47 is outside [0, 46)", () -> ShortlistFile.read(p, 46));
        fails(p, "query 2, position 4: gallery id 47 is outside [0, 47)", () -> ShortlistFile.read(p, 47));
    }

    /** A shortlist file written by us, then with one stored double replaced. */
    private Path patched(String name, int flatIndex, double value) throws IOException {
        Path p = tmp.resolve(name);
        ShortlistFile.write(p, ShortlistFile.read(Fixtures.path("pickles/nn_numpy.pkl")));
        byte[] b = Files.readAllBytes(p);
        int dataStart = b.length - 3 - 2 * 3 * 10 * 8;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putDouble(dataStart + 8 * flatIndex, value);
        Files.write(p, b);
        return p;
    }

    @Test
    void rejectsNonIntegerNegativeIdsAndNaNSimilarities() throws IOException {
        Path frac = patched("frac.pkl", 30 + 10 + 3, 2.5);
        fails(frac, "query 1, position 3: gallery id 2.5 is not an integer", () -> ShortlistFile.read(frac));
        Path neg = patched("neg.pkl", 30 + 29, -1);
        fails(neg, "query 2, position 9: gallery id -1 is outside", () -> ShortlistFile.read(neg));
        Path nan = patched("nan.pkl", 12, Double.NaN);
        fails(nan, "query 1, position 2: similarity is NaN", () -> ShortlistFile.read(nan));
        Path nanId = patched("nanid.pkl", 31, Double.NaN);
        fails(nanId, "query 0, position 1: gallery id NaN is not an integer", () -> ShortlistFile.read(nanId));
    }

    @Test
    void rejectsWrongRankFirstDimensionAndDtype() throws Exception {
        // hand-made NumPy pickles: rewrite our own header for other shapes/dtypes
        Path rank = numpyPickle("rank.pkl", new int[]{60}, "f8", 60 * 8);
        fails(rank, "found rank 1 shape [60]", () -> ShortlistFile.read(rank));
        Path first = numpyPickle("first.pkl", new int[]{3, 2, 10}, "f8", 60 * 8);
        fails(first, "first dimension must be 2", () -> ShortlistFile.read(first));
        Path ints = numpyPickle("ints.pkl", new int[]{2, 3, 10}, "i8", 60 * 8);
        fails(ints, "found I64", () -> ShortlistFile.read(ints));
        Path shortData = numpyPickle("short.pkl", new int[]{2, 3, 10}, "f8", 59 * 8);
        fails(shortData, "needs 480 bytes but holds 472", () -> ShortlistFile.read(shortData));
        Path dict = tmp.resolve("dict.pkl");
        Files.write(dict, Pickles.dumps(Map.of("nn", List.of(1.0))));
        fails(dict, "pickle holds a dict, not a torch tensor or NumPy array", () -> ShortlistFile.read(dict));
        Path text = tmp.resolve("text.pkl");
        Files.writeString(text, "0.9,12\n");
        fails(text, "not a pickle", () -> ShortlistFile.read(text));
        Path missing = tmp.resolve("missing.pkl");
        fails(missing, "no such file", () -> ShortlistFile.read(missing));
    }

    @Test
    void rejectsTruncatedFilesOfEveryLayout() throws IOException {
        for (String f : FIXTURES.keySet()) {
            byte[] real = Files.readAllBytes(Fixtures.path(f));
            Path p = tmp.resolve("cut_" + Path.of(f).getFileName());
            Files.write(p, java.util.Arrays.copyOf(real, real.length * 2 / 3));
            fails(p, "", () -> ShortlistFile.read(p));
        }
    }

    /** {@code pickle.dumps(np.zeros(shape, dtype))} by hand, with {@code dataBytes} bytes of data. */
    private Path numpyPickle(String name, int[] shape, String dtype, int dataBytes) throws IOException {
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        o.writeBytes(new byte[]{(byte) 0x80, 3});
        o.writeBytes("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n".getBytes());
        o.writeBytes(new byte[]{'K', 0, (byte) 0x85, 'C', 1, 'b', (byte) 0x87, 'R', '(', 'K', 1, '('});
        for (int d : shape) {
            o.write('J');
            o.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(d).array());
        }
        o.write('t');
        o.writeBytes("cnumpy\ndtype\n".getBytes());
        o.write('U');
        o.write(dtype.length());
        o.writeBytes(dtype.getBytes());
        o.writeBytes(new byte[]{(byte) 0x89, (byte) 0x88, (byte) 0x87, 'R', '(', 'K', 3, 'U', 1, '<', 'N', 'N', 'N'});
        o.writeBytes(new byte[]{'J', -1, -1, -1, -1, 'J', -1, -1, -1, -1, 'K', 0, 't', 'b', (byte) 0x89, 'B'});
        o.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(dataBytes).array());
        o.writeBytes(new byte[dataBytes]);
        o.writeBytes(new byte[]{'t', 'b', '.'});
        Path p = tmp.resolve(name);
        Files.write(p, o.toByteArray());
        return p;
    }
}
