package org.locore.model.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsTest {

    @TempDir
    Path tmp;

    @Test
    void readsReferenceFileHeaderAndValues() throws IOException {
        Path f = Fixtures.path("locore/locore_tiny_a.weights.safetensors");
        try (Safetensors st = Safetensors.open(f)) {
            assertEquals(53, st.names().size());
            Safetensors.Entry e = st.entry("language_model.classifier.weight");
            assertEquals(DType.F32, e.dtype());
            assertArrayEquals(new long[]{2, 32}, e.shape());
            Tensor t = st.get("language_model.classifier.weight");
            float[] v = t.toFloatArray();
            assertEquals(64, v.length);
            // the value read through the mapping equals the bytes at the offsets the header names
            byte[] all = Files.readAllBytes(f);
            long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            ByteBuffer raw = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < v.length; i++) {
                assertEquals(raw.getFloat((int) (8 + n + e.begin() + 4L * i)), v[i]);
            }
        }
    }

    @Test
    void readsInt64Tensors() throws IOException {
        Tensor rows = Fixtures.tensor("hdf5/expected.safetensors", "valid_rows");
        assertEquals(DType.I64, rows.dtype());
        long[] l = rows.toLongArray();
        assertEquals(7, l.length);
        for (long x : l) assertTrue(x >= 0 && x <= 20, "valid rows in [0, K]: " + x);
    }

    /** The writer reproduces the reference library's bytes exactly (files written by safetensors.torch). */
    @Test
    void rewritingReferenceFilesIsByteIdentical() throws IOException {
        for (String name : List.of("locore/locore_tiny_a.weights.safetensors", "locore/locore_tiny_a.inputs.safetensors",
                "locore/locore_tiny_a.expected.safetensors", "dinov2/dinov2_tiny.expected.safetensors")) {
            Path src = Fixtures.path(name);
            Map<String, Tensor> all = Safetensors.readAll(src);
            Path out = tmp.resolve("copy.safetensors");
            Safetensors.write(out, new ArrayList<>(all.values()));
            assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(out), name + " rewritten differs");
        }
    }

    @Test
    void roundTripsEveryDtypeAndMetadata() throws IOException {
        List<Tensor> ts = new ArrayList<>();
        float[] f = {0f, -1.5f, 3.25f, 65504f, 1e-3f, -0.0f};
        ts.add(Tensor.ofFloats("f32", new long[]{2, 3}, f));
        ts.add(Tensor.ofDoubles("f64", new long[]{3}, new double[]{1e300, -2, Math.PI}));
        ts.add(Tensor.ofLongs("i64", new long[]{2}, new long[]{Long.MIN_VALUE, 42}));
        ts.add(Tensor.of("f16", org.nd4j.linalg.factory.Nd4j.createFromArray(f).reshape(2, 3), DType.F16));
        ts.add(Tensor.of("bf16", org.nd4j.linalg.factory.Nd4j.createFromArray(f).reshape(3, 2), DType.BF16));
        ts.add(Tensor.ofFloats("scalar", new long[0], new float[]{7f}));
        ts.add(Tensor.ofFloats("empty", new long[]{0, 4}, new float[0]));
        Path out = tmp.resolve("all.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        Safetensors.write(out, ts, meta);
        byte[] bytes = Files.readAllBytes(out);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"}"), header);
        try (Safetensors st = Safetensors.open(out)) {
            assertEquals("pt", st.metadata().get("format"));
            // widest dtypes first (I64, F64, F32, BF16, F16), then by name
            assertEquals(List.of("i64", "f64", "empty", "f32", "scalar", "bf16", "f16"), new ArrayList<>(st.names()));
            assertArrayEquals(f, st.get("f32").toFloatArray());
            assertArrayEquals(new double[]{1e300, -2, Math.PI}, st.get("f64").toDoubleArray());
            assertArrayEquals(new long[]{Long.MIN_VALUE, 42}, st.get("i64").toLongArray());
            // these values are exact in float16 and bfloat16 except 1e-3 and 3.25 (bf16 has 8 mantissa bits)
            float[] h = st.get("f16").toFloatArray();
            float[] b = st.get("bf16").toFloatArray();
            for (int i = 0; i < f.length; i++) {
                assertEquals(f[i], h[i], Math.abs(f[i]) * 1e-3, "f16 " + i);
                assertEquals(f[i], b[i], Math.abs(f[i]) * 8e-3, "bf16 " + i);
            }
            assertEquals(Float.floatToIntBits(-0.0f), Float.floatToIntBits(h[5]), "negative zero kept in f16");
            assertArrayEquals(new long[]{3, 2}, st.get("bf16").shape());
            assertEquals(7f, st.get("scalar").toFloatArray()[0]);
            assertEquals(0, st.get("empty").numel());
        }
    }

    @Test
    void halfPrecisionConversionsAreExactOnAllBitPatterns() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float v = DType.halfToFloat((short) bits);
            if (Float.isNaN(v)) {
                assertTrue(Float.isNaN(DType.halfToFloat(DType.floatToHalf(v))));
                continue;
            }
            assertEquals(bits, DType.floatToHalf(v) & 0xffff, "round trip of half bits " + Integer.toHexString(bits));
        }
        // round half to even: 1 + 2^-11 lies halfway between 1 and the next half (1 + 2^-10)
        assertEquals(DType.floatToHalf(1f), DType.floatToHalf(1f + 0x1p-11f));
        assertEquals(DType.floatToHalf(1f + 0x1p-9f), DType.floatToHalf(1f + 0x1p-10f + 0x1p-11f));
        assertEquals(0x7c00, DType.floatToHalf(1e6f) & 0xffff, "overflow to infinity");
        assertEquals(1, DType.floatToHalf(0x1p-24f) & 0xffff, "smallest subnormal");
        assertEquals(DType.bfloat16ToFloat(DType.floatToBfloat16(1.00390625f)), 1.0f, "bf16 ties to even");
    }

    // ---- broken files -------------------------------------------------------------------------------------

    private Path writeRaw(String name, long headerLength, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(h);
        Path p = tmp.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    private void assertBroken(Path p, String... fragments) {
        FormatException e = assertThrows(FormatException.class, () -> {
            try (Safetensors st = Safetensors.open(p)) {
                for (String n : st.names()) st.get(n).toFloatArray();
            }
        });
        assertTrue(e.getMessage().contains(p.toString()), "message names the file: " + e.getMessage());
        for (String frag : fragments) {
            assertTrue(e.getMessage().contains(frag), "message '" + e.getMessage() + "' mentions '" + frag + "'");
        }
    }

    @Test
    void brokenFilesGiveClearErrors() throws IOException {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        assertBroken(writeRaw("short.safetensors", 0, "", 0).resolveSibling("short.safetensors"), "header");
        Files.write(tmp.resolve("tiny.safetensors"), new byte[]{1, 2, 3});
        assertBroken(tmp.resolve("tiny.safetensors"), "shorter than the 8-byte header length");
        assertBroken(writeRaw("huge-header.safetensors", 1L << 40, ok, 8), "header length");
        assertBroken(writeRaw("neg-header.safetensors", -5, ok, 8), "header length");
        assertBroken(writeRaw("past-end-header.safetensors", ok.length() + 100, ok, 8), "truncated");
        assertBroken(writeRaw("not-json.safetensors", 5, "{abc}", 0), "not valid JSON");
        assertBroken(writeRaw("magic.safetensors", 4, "PK\u0003\u0004", 0), "does not start with '{'");
        assertBroken(writeRaw("dtype.safetensors", ok.replace("F32", "Q7").length(), ok.replace("F32", "Q7"), 8),
                "unsupported dtype 'Q7'", "tensor 'a'");
        String past = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8000]}}";
        assertBroken(writeRaw("past-end.safetensors", past.length(), past, 8), "past the end", "tensor 'a'");
        String wrongShape = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
        assertBroken(writeRaw("shape.safetensors", wrongShape.length(), wrongShape, 8), "needs 12");
        String gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertBroken(writeRaw("gap.safetensors", gap.length(), gap, 8), "gap");
        String neg = "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}";
        assertBroken(writeRaw("neg.safetensors", neg.length(), neg, 8), "non-negative");
        String noOffsets = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}";
        assertBroken(writeRaw("nooff.safetensors", noOffsets.length(), noOffsets, 8), "data_offsets");
        // truncated copy of a real file
        byte[] real = Files.readAllBytes(Fixtures.path("locore/locore_tiny_a.weights.safetensors"));
        Path trunc = tmp.resolve("truncated.safetensors");
        Files.write(trunc, Arrays.copyOf(real, real.length - 1000));
        assertBroken(trunc, "past the end");
        assertBroken(tmp.resolve("missing.safetensors"), "no such file");
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path f = Fixtures.path("locore/locore_tiny_a.weights.safetensors");
        try (Safetensors st = Safetensors.open(f)) {
            FormatException e = assertThrows(FormatException.class, () -> st.get("nope"));
            assertTrue(e.getMessage().contains("no tensor named 'nope'") && e.getMessage().contains(f.toString()));
        }
    }

    @Test
    void writeIsAtomicAndKeepsTheOldFileOnFailure() throws IOException {
        Path out = tmp.resolve("w.safetensors");
        Safetensors.write(out, List.of(Tensor.ofFloats("x", new long[]{1}, new float[]{1})));
        byte[] before = Files.readAllBytes(out);
        assertThrows(IllegalArgumentException.class, () -> Safetensors.write(out,
                List.of(Tensor.ofFloats("x", new long[]{1}, new float[]{2}), Tensor.ofFloats("x", new long[]{1}, new float[]{3}))));
        assertArrayEquals(before, Files.readAllBytes(out));
        try (var s = Files.list(tmp)) {
            assertEquals(1, s.count(), "no temporary files left behind");
        }
    }
}
