package org.locore.data.groundtruth;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * A minimal Python pickle writer (protocol 2) for plain values: {@code None}, {@code bool}, {@code int}
 * ({@link Integer}, {@link Long}), {@code float} ({@link Double}, {@link Float}), {@code str}, {@code list}
 * ({@link List}, also {@code int[]} and {@code double[]}) and {@code dict} ({@link Map} with string keys, in
 * iteration order). No classes are referenced, so Python's {@code pickle.load} reads the result without NumPy or
 * any other module. Used for ground-truth files ({@link GroundTruth#write}). Not thread-safe; one instance per
 * file.
 */
final class PickleWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** The pickle of {@code value}: header, the value, STOP. */
    static byte[] pickle(Object value) {
        PickleWriter w = new PickleWriter();
        w.out.write(0x80); // PROTO 2
        w.out.write(2);
        w.value(value);
        w.out.write('.');
        return w.out.toByteArray();
    }

    private void value(Object v) {
        if (v == null) {
            out.write('N');
        } else if (v instanceof Boolean b) {
            out.write(b ? 0x88 : 0x89);
        } else if (v instanceof Integer || v instanceof Long) {
            integer(((Number) v).longValue());
        } else if (v instanceof Double || v instanceof Float) {
            out.write('G'); // BINFLOAT, big-endian
            out.writeBytes(ByteBuffer.allocate(8).putDouble(((Number) v).doubleValue()).array());
        } else if (v instanceof String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            out.write('X'); // BINUNICODE
            out.writeBytes(le32(b.length));
            out.writeBytes(b);
        } else if (v instanceof int[] a) {
            out.write(']');
            if (a.length > 0) {
                out.write('(');
                for (int x : a) integer(x);
                out.write('e');
            }
        } else if (v instanceof double[] a) {
            out.write(']');
            if (a.length > 0) {
                out.write('(');
                for (double x : a) value(x);
                out.write('e');
            }
        } else if (v instanceof List<?> l) {
            out.write(']');
            if (!l.isEmpty()) {
                out.write('(');
                for (Object x : l) value(x);
                out.write('e'); // APPENDS
            }
        } else if (v instanceof Map<?, ?> m) {
            out.write('}');
            if (!m.isEmpty()) {
                out.write('(');
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!(e.getKey() instanceof String)) {
                        throw new IllegalArgumentException("dict keys must be strings, found " + e.getKey());
                    }
                    value(e.getKey());
                    value(e.getValue());
                }
                out.write('u'); // SETITEMS
            }
        } else {
            throw new IllegalArgumentException("cannot pickle a " + v.getClass().getName());
        }
    }

    private void integer(long x) {
        if (x >= 0 && x < 256) {
            out.write('K');
            out.write((int) x);
        } else if (x >= Integer.MIN_VALUE && x <= Integer.MAX_VALUE) {
            out.write('J');
            out.writeBytes(le32((int) x));
        } else {
            out.write(0x8a); // LONG1: 8 bytes little-endian two's complement
            out.write(8);
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(x).array());
        }
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }
}
