package org.locore.testing;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Test support: writes plain Python pickles (protocol 3) of Java values, to build small and deliberately
 * broken input files without Python. Maps become dicts, Lists lists, Object[] tuples, String str,
 * Integer/Long int, Double float, Boolean bool, byte[] bytes, null None.
 */
public final class Pickles {
    private Pickles() {
    }

    /** The pickle of {@code value}, like Python's {@code pickle.dumps(value, protocol=3)}. */
    public static byte[] dumps(Object value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x80);
        out.write(3);
        write(out, value);
        out.write('.');
        return out.toByteArray();
    }

    private static void write(ByteArrayOutputStream out, Object v) {
        if (v == null) {
            out.write('N');
        } else if (v instanceof Boolean b) {
            out.write(b ? 0x88 : 0x89);
        } else if (v instanceof Integer || v instanceof Long) {
            long x = ((Number) v).longValue();
            if (x == (int) x) {
                out.write('J');
                out.writeBytes(le(4, x));
            } else {
                out.write(0x8a);
                out.write(8);
                out.writeBytes(le(8, x));
            }
        } else if (v instanceof Double d) {
            out.write('G');
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putDouble(d).array());
        } else if (v instanceof String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            out.write('X');
            out.writeBytes(le(4, b.length));
            out.writeBytes(b);
        } else if (v instanceof byte[] b) {
            out.write('B');
            out.writeBytes(le(4, b.length));
            out.writeBytes(b);
        } else if (v instanceof Object[] t) {
            out.write('(');
            for (Object x : t) write(out, x);
            out.write('t');
        } else if (v instanceof List<?> l) {
            out.write(']');
            out.write('(');
            for (Object x : l) write(out, x);
            out.write('e');
        } else if (v instanceof Map<?, ?> m) {
            out.write('}');
            out.write('(');
            for (Map.Entry<?, ?> e : m.entrySet()) {
                write(out, e.getKey());
                write(out, e.getValue());
            }
            out.write('u');
        } else {
            throw new IllegalArgumentException("cannot pickle " + v.getClass());
        }
    }

    private static byte[] le(int n, long x) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (x >>> (8 * i));
        return b;
    }
}
