package org.locore.data.features;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An HDF5 datatype decoded from the raw bytes of a datatype message (jhdf 0.13 misreads the dimensions of
 * array members of compound types, so compound types are decoded here). Covers the classes that can appear
 * in a features file; enumerations and other exotic classes are reported as unsupported.
 *
 * @param hdfClass the HDF5 datatype class (0 fixed-point, 1 float, 6 compound, 10 array...)
 * @param size     bytes per element
 * @param order    byte order of numbers (null for other classes)
 * @param signed   whether a fixed-point type is signed
 * @param dims     array dimensions (class 10), empty otherwise
 * @param base     the element type of an array, null otherwise
 * @param members  the members of a compound type, empty otherwise
 */
record StoredType(int hdfClass, int size, ByteOrder order, boolean signed, int[] dims, StoredType base,
                  List<Member> members) {
    /** One member of a compound type: its name, byte offset in the record and type. */
    record Member(String name, int offset, StoredType type) {
    }

    private static final int MAX_DEPTH = 16;

    /** Decodes a datatype message (the buffer's position is the start of the message and is advanced). */
    static StoredType decode(ByteBuffer b) {
        return decode(b.order(ByteOrder.LITTLE_ENDIAN), 0);
    }

    private static StoredType decode(ByteBuffer b, int depth) {
        if (depth > MAX_DEPTH) {
            throw new IllegalStateException("datatype nested more than " + MAX_DEPTH + " deep");
        }
        int head = b.get() & 0xff;
        int cls = head & 0x0f;
        int version = head >>> 4;
        int bits = (int) Hdf5Headers.readUnsigned(b, 3);
        int size = b.getInt();
        if (size < 0) {
            throw new IllegalStateException("datatype of negative size");
        }
        ByteOrder order = (bits & 1) == 0 ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
        switch (cls) {
            case 0, 4 -> { // fixed-point, bitfield: bit offset, precision
                skip(b, 4);
                return new StoredType(cls, size, order, (bits & 8) != 0, new int[0], null, List.of());
            }
            case 1 -> { // floating point: bit offset, precision, exponent/mantissa layout, bias
                skip(b, 12);
                return new StoredType(cls, size, order, true, new int[0], null, List.of());
            }
            case 2 -> {
                skip(b, 2);
                return simple(cls, size);
            }
            case 3, 7 -> {
                return simple(cls, size);
            }
            case 5 -> { // opaque: ASCII tag padded to a multiple of 8 bytes
                skip(b, bits & 0xff);
                return simple(cls, size);
            }
            case 6 -> {
                return compound(b, version, bits & 0xffff, size, depth);
            }
            case 9 -> {
                StoredType base = decode(b, depth + 1);
                return new StoredType(cls, size, null, false, new int[0], base, List.of());
            }
            case 10 -> {
                int ndims = b.get() & 0xff;
                if (version < 3) {
                    skip(b, 3);
                }
                int[] dims = new int[ndims];
                for (int i = 0; i < ndims; i++) {
                    dims[i] = b.getInt();
                }
                if (version < 3) {
                    skip(b, 4 * ndims); // permutation (unused by the library)
                }
                StoredType base = decode(b, depth + 1);
                return new StoredType(cls, size, base.order(), base.signed(), dims, base, List.of());
            }
            default -> throw new IllegalStateException("unsupported datatype class " + cls);
        }
    }

    private static StoredType simple(int cls, int size) {
        return new StoredType(cls, size, null, false, new int[0], null, List.of());
    }

    private static StoredType compound(ByteBuffer b, int version, int count, int size, int depth) {
        List<Member> members = new ArrayList<>();
        int offsetBytes = size < 1 << 8 ? 1 : size < 1 << 16 ? 2 : size < 1 << 24 ? 3 : 4;
        for (int i = 0; i < count; i++) {
            int start = b.position();
            String name = Hdf5Headers.cString(b);
            if (version < 3) {
                b.position(start + ((b.position() - start + 7) / 8) * 8);
            }
            int offset = version < 3 ? b.getInt() : (int) Hdf5Headers.readUnsigned(b, offsetBytes);
            StoredType type;
            if (version == 1) {
                int ndims = b.get() & 0xff;
                skip(b, 3 + 4 + 4);
                int[] dims = new int[4];
                for (int d = 0; d < 4; d++) {
                    dims[d] = b.getInt();
                }
                StoredType base = decode(b, depth + 1);
                type = ndims == 0 ? base : new StoredType(10, Arrays.stream(dims, 0, ndims).reduce(base.size(),
                        (x, y) -> x * y), base.order(), base.signed(), Arrays.copyOf(dims, ndims), base, List.of());
            } else {
                type = decode(b, depth + 1);
            }
            members.add(new Member(name, offset, type));
        }
        return new StoredType(6, size, null, false, new int[0], null, List.copyOf(members));
    }

    private static void skip(ByteBuffer b, int n) {
        b.position(b.position() + n);
    }

    /** The IEEE float type of this type (or of an array's elements), or null when not a 2/4/8-byte float. */
    FloatType floatType() {
        StoredType t = hdfClass == 10 ? base : this;
        if (t.hdfClass != 1 || !(t.size == 2 || t.size == 4 || t.size == 8)) {
            return null;
        }
        return new FloatType(t.size, t.order);
    }

    /** The member of a compound type with that name, or null. */
    Member member(String name) {
        for (Member m : members) {
            if (m.name().equals(name)) {
                return m;
            }
        }
        return null;
    }

    /** A short description: "float32", "int64", "float16[700,128]", "compound{a: float32, ...}". */
    String describe() {
        return switch (hdfClass) {
            case 0 -> (signed ? "int" : "uint") + 8 * size;
            case 1 -> "float" + 8 * size;
            case 3 -> "string";
            case 6 -> {
                StringBuilder sb = new StringBuilder("compound{");
                for (int i = 0; i < members.size(); i++) {
                    sb.append(i == 0 ? "" : ", ").append(members.get(i).name()).append(": ")
                            .append(members.get(i).type().describe());
                }
                yield sb.append('}').toString();
            }
            case 9 -> "variable-length";
            case 10 -> base.describe() + Arrays.toString(dims).replace(" ", "");
            default -> "HDF5 class " + hdfClass;
        };
    }

    @Override
    public String toString() {
        return describe();
    }
}
