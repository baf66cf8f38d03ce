package org.locore.data.features;

import io.jhdf.object.datatype.ArrayDataType;
import io.jhdf.object.datatype.CompoundDataType;
import io.jhdf.object.datatype.DataType;
import io.jhdf.object.datatype.FixedPoint;
import io.jhdf.object.datatype.FloatingPoint;
import io.jhdf.object.datatype.StringData;
import io.jhdf.object.datatype.VariableLength;
import org.locore.model.io.DType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * An IEEE floating-point element type as stored in an HDF5 file: 2, 4 or 8 bytes in either byte order.
 *
 * @param size  bytes per element
 * @param order byte order
 */
record FloatType(int size, ByteOrder order) {
    /** The type of an HDF5 datatype, or null when it is not a 16/32/64-bit IEEE float. */
    static FloatType of(DataType type) {
        if (type instanceof FloatingPoint fp && (fp.getSize() == 2 || fp.getSize() == 4 || fp.getSize() == 8)) {
            return new FloatType(fp.getSize(), fp.getByteOrder());
        }
        return null;
    }

    /** "float16", "float32" or "float64". */
    String name() {
        return "float" + (8 * size);
    }

    /** Reads the element at byte offset {@code pos} of {@code b} (absolute; the buffer is not moved). */
    float get(ByteBuffer b, int pos) {
        if (b.order() != order) {
            b = b.duplicate().order(order);
        }
        return switch (size) {
            case 2 -> DType.halfToFloat(b.getShort(pos));
            case 4 -> b.getFloat(pos);
            default -> (float) b.getDouble(pos);
        };
    }

    /** Decodes {@code count} consecutive elements starting at byte {@code pos} into {@code dst[off ..]}. */
    void decode(ByteBuffer b, int pos, int count, float[] dst, int off) {
        ByteBuffer o = b.order() == order ? b : b.duplicate().order(order);
        if (size == 4) {
            o.slice(pos, count * 4).order(order).asFloatBuffer().get(dst, off, count);
            return;
        }
        for (int i = 0; i < count; i++) {
            dst[off + i] = size == 2 ? DType.halfToFloat(o.getShort(pos + 2 * i)) : (float) o.getDouble(pos + 8 * i);
        }
    }

    /** A short human-readable name of any HDF5 datatype, for messages ("int32", "uint8", "string"...). */
    static String describe(DataType type) {
        if (type == null) {
            return "unknown";
        }
        if (type instanceof FloatingPoint) {
            return "float" + 8 * type.getSize();
        }
        if (type instanceof FixedPoint fx) {
            return (fx.isSigned() ? "int" : "uint") + 8 * type.getSize();
        }
        if (type instanceof StringData) {
            return "string";
        }
        if (type instanceof VariableLength) {
            return "variable-length";
        }
        if (type instanceof ArrayDataType a) {
            return describe(a.getBaseType()) + Arrays.toString(a.getArrayTypeDimensions()).replace(" ", "");
        }
        if (type instanceof CompoundDataType c) {
            StringBuilder sb = new StringBuilder("compound{");
            for (int i = 0; i < c.getMembers().size(); i++) {
                var m = c.getMembers().get(i);
                sb.append(i == 0 ? "" : ", ").append(m.getName()).append(": ").append(describe(m.getDataType()));
            }
            return sb.append('}').toString();
        }
        return type.getClass().getSimpleName() + " (HDF5 class " + type.getDataClass() + ")";
    }
}
