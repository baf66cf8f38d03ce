package org.locore.model.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A PyTorch storage as a pickle refers to it: an element type and a flat run of little-endian elements,
 * filled when its bytes are found (at once for zip checkpoints, after the pickle for the legacy format).
 * Tensors are views of a storage (offset, size, stride), materialised here with every bound checked.
 */
final class TorchStorage {
    /** Loads a storage's bytes on first use. */
    @FunctionalInterface
    interface Loader {
        ByteBuffer load() throws FormatException;
    }

    private final String key;
    private final DType dtype;
    private final Loader loader;
    private final TorchStorage viewOf;
    private final long viewOffset;
    private final long viewSize;
    private ByteBuffer data;

    private TorchStorage(String key, DType dtype, Loader loader, TorchStorage viewOf, long viewOffset, long viewSize) {
        this.key = key;
        this.dtype = dtype;
        this.loader = loader;
        this.viewOf = viewOf;
        this.viewOffset = viewOffset;
        this.viewSize = viewSize;
    }

    /** A storage whose bytes are given now. */
    static TorchStorage of(DType dtype, ByteBuffer bytes) {
        TorchStorage s = new TorchStorage("array", dtype, null, null, 0, 0);
        s.data = bytes.slice().order(ByteOrder.LITTLE_ENDIAN);
        return s;
    }

    /** A storage whose bytes are loaded on first use (or set later with {@link #fill}). */
    static TorchStorage lazy(String key, DType dtype, Loader loader) {
        return new TorchStorage(key, dtype, loader, null, 0, 0);
    }

    /** A view of {@code size} elements of another storage, from element {@code offset} (legacy format). */
    static TorchStorage view(String key, TorchStorage root, long offset, long size) {
        return new TorchStorage(key, root.dtype, null, root, offset, size);
    }

    String key() {
        return key;
    }

    DType dtype() {
        return dtype;
    }

    /** Sets the bytes of a storage read after its pickle (legacy format). */
    void fill(ByteBuffer bytes) {
        this.data = bytes.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The storage's bytes, loading them if needed. */
    ByteBuffer data(Path file) throws FormatException {
        if (data == null) {
            if (viewOf != null) {
                ByteBuffer root = viewOf.data(file);
                long rootNumel = root.remaining() / dtype.size();
                if (viewOffset < 0 || viewSize < 0 || viewOffset + viewSize > rootNumel) {
                    throw new FormatException(file, "storage view '" + key + "' [" + viewOffset + ", +" + viewSize
                            + ") lies outside storage '" + viewOf.key + "' of " + rootNumel + " elements");
                }
                ByteBuffer d = root.duplicate();
                d.position((int) (viewOffset * dtype.size()));
                d.limit((int) ((viewOffset + viewSize) * dtype.size()));
                data = d.slice().order(ByteOrder.LITTLE_ENDIAN);
            } else if (loader != null) {
                data = loader.load().slice().order(ByteOrder.LITTLE_ENDIAN);
            } else {
                throw new FormatException(file, "storage '" + key + "' has no data");
            }
        }
        return data;
    }

    /** The element type that a torch storage class ({@code torch.FloatStorage}...) holds, or null. */
    static DType dtypeOfStorageClass(String qualifiedName) {
        String n = qualifiedName.substring(qualifiedName.lastIndexOf('.') + 1);
        return switch (n) {
            case "FloatStorage" -> DType.F32;
            case "DoubleStorage" -> DType.F64;
            case "HalfStorage" -> DType.F16;
            case "BFloat16Storage" -> DType.BF16;
            case "LongStorage" -> DType.I64;
            case "IntStorage" -> DType.I32;
            case "ShortStorage" -> DType.I16;
            case "CharStorage" -> DType.I8;
            case "ByteStorage", "UntypedStorage" -> DType.U8;
            case "BoolStorage" -> DType.BOOL;
            default -> null;
        };
    }

    /**
     * The tensor that views this storage with the given offset, size and stride (in elements), as a
     * row-major {@link Tensor}: contiguous views share the storage's bytes, strided ones are copied.
     */
    Tensor tensor(Path file, long offset, long[] size, long[] stride) throws FormatException {
        String what = "tensor of size " + Arrays.toString(size) + ", stride " + Arrays.toString(stride)
                + " at offset " + offset + " in storage '" + key + "' (" + dtype + ")";
        if (size.length != stride.length) {
            throw new FormatException(file, what + ": size and stride have different ranks");
        }
        if (offset < 0) {
            throw new FormatException(file, what + ": negative storage offset");
        }
        long numel = 1;
        long last = offset;
        try {
            for (int i = 0; i < size.length; i++) {
                if (size[i] < 0 || stride[i] < 0) {
                    throw new FormatException(file, what + ": negative size or stride");
                }
                numel = Math.multiplyExact(numel, size[i]);
            }
            if (numel > 0) {
                for (int i = 0; i < size.length; i++) {
                    last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
                }
            }
        } catch (ArithmeticException e) {
            throw new FormatException(file, what + ": size overflows");
        }
        int esz = dtype.size();
        if (numel == 0) {
            return new Tensor(key, dtype, size, ByteBuffer.allocate(0));
        }
        ByteBuffer src = data(file);
        long storageNumel = src.remaining() / esz;
        if (last >= storageNumel) {
            throw new FormatException(file, what + ": storage too short, the view reaches element " + last
                    + " but the storage holds " + storageNumel + " elements");
        }
        if (numel > (Integer.MAX_VALUE - 8) / esz) {
            throw new FormatException(file, what + ": " + numel + " elements, too large for one buffer (2 GB)");
        }
        boolean contiguous = true;
        long expect = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expect) {
                contiguous = false;
            }
            expect *= size[i];
        }
        if (contiguous) {
            ByteBuffer d = src.duplicate();
            d.position((int) (offset * esz));
            d.limit((int) ((offset + numel) * esz));
            return new Tensor(key, dtype, size, d.slice());
        }
        byte[] out = new byte[(int) (numel * esz)];
        int rank = size.length;
        long[] idx = new long[rank];
        long at = offset;
        for (int n = 0; n < numel; n++) {
            int from = (int) (at * esz);
            for (int b = 0; b < esz; b++) {
                out[n * esz + b] = src.get(from + b);
            }
            for (int d = rank - 1; d >= 0; d--) {
                idx[d]++;
                at += stride[d];
                if (idx[d] < size[d]) {
                    break;
                }
                at -= stride[d] * size[d];
                idx[d] = 0;
            }
        }
        return new Tensor(key, dtype, size, ByteBuffer.wrap(out));
    }
}
