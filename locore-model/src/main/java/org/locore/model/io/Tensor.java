package org.locore.model.io;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A stored tensor: element type, shape and its little-endian row-major bytes (possibly a view of a
 * memory-mapped file). Conversions copy into Java arrays or ND4J arrays.
 */
public final class Tensor {
    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final ByteBuffer data;

    /**
     * @param name  the tensor's name (for messages)
     * @param dtype element type
     * @param shape dimensions, row-major; empty for a scalar
     * @param data  exactly {@code numel * dtype.size()} bytes; its position is ignored
     */
    public Tensor(String name, DType dtype, long[] shape, ByteBuffer data) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        ByteBuffer d = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        long expected = numel(shape) * dtype.size();
        if (d.remaining() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + d.remaining() + " bytes for shape "
                    + Arrays.toString(shape) + " of " + dtype + " (expected " + expected + ")");
        }
        this.data = d;
    }

    /** A float32 tensor holding a copy of {@code values}. */
    public static Tensor ofFloats(String name, long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new Tensor(name, DType.F32, shape, b);
    }

    /** A float64 tensor holding a copy of {@code values}. */
    public static Tensor ofDoubles(String name, long[] shape, double[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(values);
        return new Tensor(name, DType.F64, shape, b);
    }

    /** An int64 tensor holding a copy of {@code values}. */
    public static Tensor ofLongs(String name, long[] shape, long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return new Tensor(name, DType.I64, shape, b);
    }

    /** A tensor with the contents of an ND4J array, in the given stored type (F32, F64, F16, BF16, I64, I32). */
    public static Tensor of(String name, INDArray array, DType dtype) {
        long[] shape = array.shape();
        int n = Math.toIntExact(array.length());
        INDArray flat = Nd4j.toFlattened('c', array);
        ByteBuffer b = ByteBuffer.allocate(n * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> b.asFloatBuffer().put(flat.castTo(DataType.FLOAT).toFloatVector());
            case F64 -> b.asDoubleBuffer().put(flat.castTo(DataType.DOUBLE).toDoubleVector());
            case I64 -> b.asLongBuffer().put(flat.castTo(DataType.LONG).toLongVector());
            case I32 -> b.asIntBuffer().put(flat.castTo(DataType.INT).toIntVector());
            case F16, BF16 -> {
                float[] f = flat.castTo(DataType.FLOAT).toFloatVector();
                for (float v : f) {
                    b.putShort(dtype == DType.F16 ? DType.floatToHalf(v) : DType.floatToBfloat16(v));
                }
                b.flip();
            }
            default -> throw new IllegalArgumentException("cannot store " + dtype + " from an ND4J array");
        }
        return new Tensor(name, dtype, shape, b);
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Number of elements. */
    public long numel() {
        return numel(shape);
    }

    /** A read-only little-endian view of the bytes. */
    public ByteBuffer bytes() {
        return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    private int checkedLength() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor '" + name + "' has " + n + " elements: too many for one Java array");
        }
        return (int) n;
    }

    /** The values as float (floating types and integers converted). */
    public float[] toFloatArray() {
        int n = checkedLength();
        float[] out = new float[n];
        ByteBuffer b = bytes();
        switch (dtype) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> { for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(i * 8); }
            case F16 -> { for (int i = 0; i < n; i++) out[i] = DType.halfToFloat(b.getShort(i * 2)); }
            case BF16 -> { for (int i = 0; i < n; i++) out[i] = DType.bfloat16ToFloat(b.getShort(i * 2)); }
            default -> { long[] l = toLongArray(); for (int i = 0; i < n; i++) out[i] = l[i]; }
        }
        return out;
    }

    /** The values as double (floating types and integers converted). */
    public double[] toDoubleArray() {
        int n = checkedLength();
        double[] out = new double[n];
        ByteBuffer b = bytes();
        if (dtype == DType.F64) {
            b.asDoubleBuffer().get(out);
        } else if (dtype.isFloating()) {
            float[] f = toFloatArray();
            for (int i = 0; i < n; i++) out[i] = f[i];
        } else {
            long[] l = toLongArray();
            for (int i = 0; i < n; i++) out[i] = l[i];
        }
        return out;
    }

    /** The values as long (integer and bool types; floating types are truncated toward zero). */
    public long[] toLongArray() {
        int n = checkedLength();
        long[] out = new long[n];
        ByteBuffer b = bytes();
        switch (dtype) {
            case I64, U64 -> b.asLongBuffer().get(out);
            case I32 -> { for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); }
            case U32 -> { for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4) & 0xffffffffL; }
            case I16 -> { for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2); }
            case U16 -> { for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2) & 0xffff; }
            case I8 -> { for (int i = 0; i < n; i++) out[i] = b.get(i); }
            case U8, BOOL -> { for (int i = 0; i < n; i++) out[i] = b.get(i) & 0xff; }
            default -> { double[] d = toDoubleArray(); for (int i = 0; i < n; i++) out[i] = (long) d[i]; }
        }
        return out;
    }

    /**
     * An ND4J array with this tensor's shape: FLOAT for F32/F16/BF16, DOUBLE for F64, LONG for integer
     * types, BOOL for BOOL.
     */
    public INDArray toINDArray() {
        long[] s = shape.length == 0 ? new long[0] : shape;
        return switch (dtype) {
            case F64 -> Nd4j.createFromArray(toDoubleArray()).reshape('c', s);
            case F32, F16, BF16 -> Nd4j.createFromArray(toFloatArray()).reshape('c', s);
            case BOOL -> Nd4j.createFromArray(toLongArray()).castTo(DataType.BOOL).reshape('c', s);
            default -> Nd4j.createFromArray(toLongArray()).reshape('c', s);
        };
    }

    /** The values as an ND4J array of the given type. */
    public INDArray toINDArray(DataType type) {
        INDArray a = toINDArray();
        return a.dataType() == type ? a : a.castTo(type);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
