package org.locore.model.vit;

import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * A state dict (tensor name to tensor) and the file it came from, with lookups that check names and shapes and
 * report problems as {@link FormatException}s naming the file.
 */
final class CheckpointWeights {
    private final Map<String, Tensor> tensors;
    private final Path source;

    CheckpointWeights(Map<String, Tensor> tensors, Path source) {
        this.tensors = tensors;
        this.source = source;
    }

    Path source() {
        return source;
    }

    boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor's shape; fails when it is missing. */
    long[] shape(String name) throws FormatException {
        return tensor(name).shape();
    }

    Tensor tensor(String name) throws FormatException {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new FormatException(source, "missing tensor '" + name + "'");
        }
        return t;
    }

    /** The values of a floating-point tensor that must have exactly the given shape. */
    float[] floats(String name, long... shape) throws FormatException {
        Tensor t = tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new FormatException(source, "tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(shape));
        }
        if (!t.dtype().isFloating()) {
            throw new FormatException(source, "tensor '" + name + "' has dtype " + t.dtype() + ", expected a floating type");
        }
        return t.toFloatArray();
    }

    /** The dimension {@code dim} of a tensor of rank {@code rank}. */
    long dim(String name, int rank, int dim) throws FormatException {
        long[] s = shape(name);
        if (s.length != rank) {
            throw new FormatException(source, "tensor '" + name + "' has shape " + Arrays.toString(s) + ", expected rank " + rank);
        }
        return s[dim];
    }
}
