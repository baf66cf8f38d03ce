package org.locore.data.shortlist;

import org.locore.model.io.AtomicFiles;
import org.locore.model.io.DType;
import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.locore.model.io.TorchCheckpoint;
import org.locore.model.io.TorchUnpickler;

import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * Shortlist files ({@code nn_<desc>.pkl}): a float64 {@code [2, Nq, M]} array, row 0 the similarities and row 1
 * the gallery indices stored as floats. Reads the layouts the released data uses (a pickled torch tensor, a
 * pickled NumPy array, a {@code torch.save} file) and writes a pickled NumPy array that Python's
 * {@code pickle.load} reads back with NumPy installed.
 */
public final class ShortlistFile {
    /** How a shortlist file is stored. */
    public enum Format {
        /** {@code pickle.dump(tensor)}: {@code torch._utils._rebuild_tensor_v2} over {@code _load_from_bytes}. */
        TORCH_PICKLE,
        /** {@code pickle.dump(ndarray)}: {@code numpy.core.multiarray._reconstruct}. */
        NUMPY_PICKLE,
        /** {@code torch.save(tensor)}, zip format. */
        TORCH_ZIP,
        /** {@code torch.save(tensor)}, legacy (pre-zip) format. */
        TORCH_LEGACY
    }

    /** Pickles larger than this are not read into memory. */
    private static final long MAX_PICKLE_BYTES = Integer.MAX_VALUE - 8;
    private static final Set<String> TORCH_REBUILD = Set.of("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor");
    private static final Set<String> NUMPY_REBUILD = Set.of("numpy.core.multiarray._reconstruct",
            "numpy._core.multiarray._reconstruct", "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer");

    private ShortlistFile() {
    }

    private record Loaded(Format format, Object root) {
    }

    /** The layout of a shortlist file (reads and parses it). */
    public static Format detect(Path file) throws IOException {
        return load(file).format();
    }

    /**
     * Reads a shortlist in any of the {@link Format}s, detected from the content.
     *
     * @throws FormatException naming the file and the problem: not a pickle or torch file, not a tensor, wrong
     *                         rank, first dimension not 2, a non-floating-point dtype, an id that is not a
     *                         non-negative integer, a NaN similarity
     */
    public static Shortlist read(Path file) throws IOException {
        return readChecked(file, -1);
    }

    /**
     * Reads a shortlist and checks every gallery index against the gallery size.
     *
     * @param gallerySize number of gallery images; ids must lie in {@code [0, gallerySize)}
     * @throws FormatException as {@link #read(Path)}, and for an id outside the gallery, naming the query,
     *                         position and value
     * @throws IllegalArgumentException when {@code gallerySize} is negative
     */
    public static Shortlist read(Path file, int gallerySize) throws IOException {
        if (gallerySize < 0) {
            throw new IllegalArgumentException("negative gallery size " + gallerySize);
        }
        return readChecked(file, gallerySize);
    }

    /** Reads and validates; {@code gallerySize < 0} means no upper bound on the ids. */
    private static Shortlist readChecked(Path file, int gallerySize) throws IOException {
        Loaded loaded = load(file);
        if (!(loaded.root() instanceof Tensor t)) {
            throw new FormatException(file, "holds " + describe(loaded.root()) + ", not a [2, Nq, M] array");
        }
        return toShortlist(file, t, gallerySize);
    }

    private static Loaded load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new FormatException(file, Files.exists(file) ? "not a regular file" : "no such file");
        }
        if (TorchCheckpoint.isZip(file)) {
            return new Loaded(Format.TORCH_ZIP, TorchCheckpoint.open(file).root());
        }
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file");
        }
        if (size > MAX_PICKLE_BYTES) {
            throw new FormatException(file, "pickle of " + size + " bytes: over 2 GB is not supported");
        }
        TorchUnpickler.Result r = TorchUnpickler.unpickle(file, Files.readAllBytes(file));
        if (r.root() instanceof BigInteger) {
            TorchCheckpoint ck = TorchCheckpoint.open(file); // legacy torch.save starts with a big magic number
            return new Loaded(Format.TORCH_LEGACY, ck.root());
        }
        if (r.globals().stream().anyMatch(TORCH_REBUILD::contains)) {
            return new Loaded(Format.TORCH_PICKLE, r.root());
        }
        if (r.globals().stream().anyMatch(NUMPY_REBUILD::contains)) {
            return new Loaded(Format.NUMPY_PICKLE, r.root());
        }
        throw new FormatException(file, "pickle holds " + describe(r.root()) + ", not a torch tensor or NumPy array");
    }

    private static Shortlist toShortlist(Path file, Tensor t, int gallerySize) throws FormatException {
        long[] shape = t.shape();
        if (shape.length != 3) {
            throw new FormatException(file, "shortlist must be a [2, Nq, M] array, found rank " + shape.length
                    + " shape " + Arrays.toString(shape));
        }
        if (shape[0] != 2) {
            throw new FormatException(file, "shortlist's first dimension must be 2 (similarities, ids), found shape "
                    + Arrays.toString(shape));
        }
        if (t.dtype() != DType.F64 && t.dtype() != DType.F32) {
            throw new FormatException(file, "shortlist must be float64 (or float32) with ids stored as floats, found "
                    + t.dtype());
        }
        if (shape[1] * shape[2] > Integer.MAX_VALUE - 8) {
            throw new FormatException(file, "shortlist of shape " + Arrays.toString(shape) + " is too large");
        }
        int nq = (int) shape[1];
        int m = (int) shape[2];
        double[] v = t.toDoubleArray();
        int n = nq * m;
        double[] sims = Arrays.copyOf(v, n);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            double x = v[n + i];
            String where = "query " + i / m + ", position " + i % m + ": ";
            if (x != Math.rint(x) || Double.isInfinite(x)) {
                throw new FormatException(file, where + "gallery id " + x + " is not an integer");
            }
            if (x < 0 || x > Integer.MAX_VALUE || (gallerySize >= 0 && x >= gallerySize)) {
                throw new FormatException(file, where + "gallery id " + (long) x + " is outside [0, "
                        + (gallerySize >= 0 ? String.valueOf(gallerySize) : "2^31") + ")"
                        + (gallerySize >= 0 ? " (the gallery size)" : ""));
            }
            ids[i] = (int) x;
            if (Double.isNaN(sims[i])) {
                throw new FormatException(file, where + "similarity is NaN");
            }
        }
        return Shortlist.ofFlat(nq, m, sims, ids);
    }

    private static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Tensor t) return "a tensor " + t.dtype() + Arrays.toString(t.shape());
        if (o instanceof Map) return "a dict";
        if (o instanceof java.util.List) return "a list or tuple";
        if (o instanceof String) return "a str";
        if (o instanceof Number) return "a number";
        return "a " + o;
    }

    /**
     * Writes a shortlist as a pickled NumPy float64 {@code [2, Nq, M]} array (pickle protocol 3, or 4 when the
     * data exceeds 4 GB), the layout of {@code pickle.dump(ndarray)}: written to a temporary file and renamed
     * over {@code file}.
     */
    public static void write(Path file, Shortlist s) throws IOException {
        int nq = s.numQueries();
        int m = s.length();
        long dataBytes = 2L * nq * m * 8;
        boolean big = dataBytes > 0xffffffffL;
        AtomicFiles.write(file, out -> {
            out.write(new byte[]{(byte) 0x80, (byte) (big ? 4 : 3)});
            global(out, "numpy.core.multiarray", "_reconstruct");
            global(out, "numpy", "ndarray");
            out.write(new byte[]{'K', 0, (byte) 0x85, 'C', 1, 'b', (byte) 0x87, 'R'}); // (ndarray, (0,), b'b')
            out.write('(');
            out.write(new byte[]{'K', 1}); // state version
            binint(out, 2);
            binint(out, nq);
            binint(out, m);
            out.write(0x87); // shape tuple
            global(out, "numpy", "dtype");
            unicode(out, "f8");
            out.write(new byte[]{(byte) 0x89, (byte) 0x88, (byte) 0x87, 'R'}); // dtype('f8', False, True)
            out.write('(');
            out.write(new byte[]{'K', 3});
            unicode(out, "<");
            out.write(new byte[]{'N', 'N', 'N'});
            binint(out, -1);
            binint(out, -1);
            out.write(new byte[]{'K', 0, 't', 'b'}); // dtype state (3, '<', None, None, None, -1, -1, 0)
            out.write(0x89); // not Fortran order
            ByteBuffer len = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
            if (big) {
                len.put((byte) 0x8e).putLong(dataBytes);
            } else {
                len.put((byte) 'B').putInt((int) dataBytes);
            }
            out.write(len.array(), 0, len.position());
            ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (int row = 0; row < 2; row++) {
                for (int q = 0; q < nq; q++) {
                    for (int j = 0; j < m; j++) {
                        if (!chunk.hasRemaining()) {
                            out.write(chunk.array(), 0, chunk.position());
                            chunk.clear();
                        }
                        chunk.putDouble(row == 0 ? s.similarity(q, j) : s.id(q, j));
                    }
                }
            }
            out.write(chunk.array(), 0, chunk.position());
            out.write(new byte[]{'t', 'b', '.'}); // array state tuple, BUILD, STOP
        });
    }

    private static void global(OutputStream out, String module, String name) throws IOException {
        out.write('c');
        out.write((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void unicode(OutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.write('X'); // BINUNICODE
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
        out.write(b);
    }

    private static void binint(OutputStream out, int v) throws IOException {
        out.write('J');
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }
}
