package org.locore.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.testing.Fixtures;
import org.locore.testing.Pickles;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TorchUnpicklerTest {
    private static final Path F = Path.of("test.pkl");

    @TempDir
    Path tmp;

    @Test
    void readsPlainPythonValues() throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("int", 5);
        m.put("neg", -70000);
        m.put("long", 1L << 40);
        m.put("float", 0.1);
        m.put("str", "Ünïcode ✓");
        m.put("none", null);
        m.put("yes", true);
        m.put("bytes", new byte[]{1, 2, (byte) 255});
        m.put("tuple", new Object[]{1, "a"});
        m.put("list", List.of(List.of(), List.of(1.5)));
        Object root = TorchUnpickler.load(F, Pickles.dumps(m));
        Map<?, ?> r = assertInstanceOf(Map.class, root);
        assertEquals(List.copyOf(m.keySet()), List.copyOf(r.keySet()));
        assertEquals(5L, r.get("int"));
        assertEquals(-70000L, r.get("neg"));
        assertEquals(1L << 40, r.get("long"));
        assertEquals(0.1, r.get("float"));
        assertEquals("Ünïcode ✓", r.get("str"));
        assertNull(r.get("none"));
        assertEquals(Boolean.TRUE, r.get("yes"));
        assertArrayEquals(new byte[]{1, 2, (byte) 255}, (byte[]) r.get("bytes"));
        assertEquals(List.of(1L, "a"), r.get("tuple"));
        assertEquals(List.of(List.of(), List.of(1.5)), r.get("list"));
    }

    @Test
    void memoKeepsSharedObjectsShared() throws Exception {
        // [x, x] where x = [] : EMPTY_LIST, MARK, EMPTY_LIST, BINPUT 0, BINGET 0, APPENDS, STOP
        byte[] b = {(byte) 0x80, 2, ']', '(', ']', 'q', 0, 'h', 0, 'e', '.'};
        List<?> l = assertInstanceOf(List.class, TorchUnpickler.load(F, b));
        assertEquals(2, l.size());
        assertSame(l.get(0), l.get(1));
    }

    @Test
    void unknownClassesBecomeInertObjects() throws Exception {
        // os.system('x') as a pickle: must never run anything, just describe it
        byte[] b = "cos\nsystem\n(S'echo hi'\ntR.".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Object o = TorchUnpickler.load(F, b);
        TorchUnpickler.PyObject p = assertInstanceOf(TorchUnpickler.PyObject.class, o);
        assertEquals("os.system", p.type());
        assertEquals(List.of("echo hi"), p.args());
        TorchUnpickler.Result r = TorchUnpickler.unpickle(F, b);
        assertTrue(r.globals().contains("os.system"));
    }

    @Test
    void readsTheLegacyMagicNumberAsABigInteger() throws Exception {
        byte[] real = Files.readAllBytes(Fixtures.path("pickles/nn_torch.pkl"));
        // the embedded legacy torch.save starts at byte 92 with the magic number pickle
        Object magic = TorchUnpickler.load(F, Arrays.copyOfRange(real, 92, real.length));
        assertEquals(new BigInteger("1950a86a20f9469cfc6c", 16), magic);
    }

    /** Pickles written by Python in every protocol, and NumPy arrays in the layouts NumPy uses. */
    private static final String MAKE = String.join("\n",
            "import sys, os, pickle, json, numpy as np",
            "d = sys.argv[1]",
            "obj = {'i': 7, 'big': 2**70, 'neg': -3, 'f': 1.25, 's': 'h\\u00e9\\n', 'b': b'\\x00\\xff',",
            "       't': (1, (2.5, None)), 'l': [True, False, [], {}], 'set': {3}, 'long': 2**40}",
            "for p in range(0, 6):",
            "    pickle.dump(obj, open(os.path.join(d, 'plain%d.pkl' % p), 'wb'), protocol=p)",
            "arrays = {",
            "  'f8_fortran': np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4) / 7),",
            "  'f4_big': np.arange(6, dtype='>f4').reshape(2, 3) * 0.5,",
            "  'i8': np.array([[1, -2], [3, 2**40]], dtype=np.int64),",
            "  'i4': np.array([5, -6], dtype=np.int32),",
            "  'u1': np.array([0, 200, 255], dtype=np.uint8),",
            "  'b1': np.array([True, False, True]),",
            "  'f2': np.array([0.1, -2.5, 65504], dtype=np.float16),",
            "  'scalar0d': np.array(3.5),",
            "  'empty': np.zeros((0, 4)),",
            "}",
            "expect = {}",
            "for name, a in arrays.items():",
            "    for p in (2, 4, 5):",
            "        pickle.dump(a, open(os.path.join(d, '%s_%d.pkl' % (name, p)), 'wb'), protocol=p)",
            "    expect[name] = {'shape': list(a.shape), 'values': a.astype(np.float64).ravel(order='C').tolist()}",
            "pickle.dump({'x': np.float64(0.75), 'n': np.int64(12)}, open(os.path.join(d, 'scalars.pkl'), 'wb'), protocol=2)",
            "lists = {'u': np.array(['ab', 'c\u00e9d']), 's': np.array([b'x', b'yz']), 'o': np.array(['a', 1], dtype=object)}",
            "for p in (2, 4, 5):",
            "    pickle.dump(lists, open(os.path.join(d, 'lists_%d.pkl' % p), 'wb'), protocol=p)",
            "json.dump(expect, open(os.path.join(d, 'expect.json'), 'w'))");

    @Test
    void agreesWithPythonPicklesOfEveryProtocolAndNumpyLayout() throws Exception {
        String python = Fixtures.python("numpy");
        assumeTrue(python != null, "no Python with numpy: pickles cannot be generated, skipped");
        Fixtures.runPython(python, MAKE, tmp.toString());
        for (int p = 0; p <= 5; p++) {
            Path f = tmp.resolve("plain" + p + ".pkl");
            Map<?, ?> r = assertInstanceOf(Map.class, TorchUnpickler.load(f, Files.readAllBytes(f)), "protocol " + p);
            String w = "protocol " + p;
            assertEquals(7L, r.get("i"), w);
            assertEquals(BigInteger.TWO.pow(70), r.get("big"), w);
            assertEquals(-3L, r.get("neg"), w);
            assertEquals(1L << 40, r.get("long"), w);
            assertEquals(1.25, r.get("f"), w);
            assertEquals("h\u00e9\n", r.get("s"), w);
            assertArrayEquals(new byte[]{0, (byte) 0xff}, (byte[]) r.get("b"), w);
            assertEquals(Arrays.asList(1L, Arrays.asList(2.5, null)), r.get("t"), w);
            assertEquals(List.of(true, false, List.of(), Map.of()), r.get("l"), w);
            assertEquals(java.util.Set.of(3L), r.get("set"), w);
        }
        JsonNode expect = new ObjectMapper().readTree(tmp.resolve("expect.json").toFile());
        Map<String, DType> dtypes = Map.of("f8_fortran", DType.F64, "f4_big", DType.F32, "i8", DType.I64,
                "i4", DType.I32, "u1", DType.U8, "b1", DType.BOOL, "f2", DType.F16, "scalar0d", DType.F64,
                "empty", DType.F64);
        for (Map.Entry<String, DType> e : dtypes.entrySet()) {
            for (int p : new int[]{2, 4, 5}) {
                Path f = tmp.resolve(e.getKey() + "_" + p + ".pkl");
                String w = f.getFileName().toString();
                Tensor t = assertInstanceOf(Tensor.class, TorchUnpickler.load(f, Files.readAllBytes(f)), w);
                assertEquals(e.getValue(), t.dtype(), w);
                JsonNode x = expect.get(e.getKey());
                long[] shape = new long[x.get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = x.get("shape").get(i).asLong();
                assertArrayEquals(shape, t.shape(), w);
                double[] v = t.toDoubleArray();
                assertEquals(x.get("values").size(), v.length, w);
                for (int i = 0; i < v.length; i++) {
                    assertEquals(x.get("values").get(i).asDouble(), v[i], 0.0, w + "[" + i + "]");
                }
            }
        }
        for (int p : new int[]{2, 4, 5}) {
            Path f = tmp.resolve("lists_" + p + ".pkl");
            Map<?, ?> l = assertInstanceOf(Map.class, TorchUnpickler.load(f, Files.readAllBytes(f)));
            assertEquals(List.of("ab", "c\u00e9d"), l.get("u"), "protocol " + p);
            assertEquals(List.of("x", "yz"), l.get("s"), "protocol " + p);
            assertEquals(List.of("a", 1L), l.get("o"), "protocol " + p);
        }
        Path s = tmp.resolve("scalars.pkl");
        Map<?, ?> sc = assertInstanceOf(Map.class, TorchUnpickler.load(s, Files.readAllBytes(s)));
        assertEquals(0.75, sc.get("x"));
        assertEquals(12L, sc.get("n"));
    }
}
