package org.locore.apps.inspect;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.data.groundtruth.ImageList;
import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Recognises a LOCORE file by its content (not its name) and describes it as a JSON object: {@code file},
 * {@code format} and what the format holds. Used by {@code locore inspect}.
 */
public final class FileInspector {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] HDF5_MAGIC = {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    /** Descriptor dimensions tried, in order, when a headerless global file's D is not given. */
    private static final int[] COMMON_DIMS = {768, 1024, 512, 384, 2048, 256, 128, 64, 32, 16};

    private final Integer dim;
    private final int head;

    /**
     * @param dim  descriptor dimension of headerless global files, or null to infer it
     * @param head number of leading entries of lists to include
     */
    public FileInspector(Integer dim, int head) {
        this.dim = dim;
        this.head = Math.max(0, head);
    }

    /** The kinds of file told apart by content. */
    public enum Kind { HDF5, SAFETENSORS, ZIP, PICKLE, TEXT, RAW }

    /** Recognises a file by its first bytes. */
    public static Kind detect(Path file) throws IOException {
        if (!Files.exists(file)) throw new FormatException(file, "no such file");
        if (Files.isDirectory(file)) throw new FormatException(file, "is a folder, not a file");
        long size = Files.size(file);
        byte[] b = new byte[(int) Math.min(4096, size)];
        try (InputStream in = Files.newInputStream(file)) {
            int n = in.readNBytes(b, 0, b.length);
            b = Arrays.copyOf(b, n);
        }
        for (long off : new long[]{0, 512, 1024, 2048}) {
            if (b.length >= off + 8 && Arrays.equals(Arrays.copyOfRange(b, (int) off, (int) off + 8), HDF5_MAGIC)) {
                return Kind.HDF5;
            }
        }
        if (b.length >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4) return Kind.ZIP;
        if (b.length >= 9) {
            long n = java.nio.ByteBuffer.wrap(b, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
            if (n > 0 && n <= size - 8 && b[8] == '{') return Kind.SAFETENSORS;
        }
        if (b.length >= 2 && (b[0] & 0xff) == 0x80 && b[1] >= 2 && b[1] <= 5) return Kind.PICKLE;
        if (looksLikeText(b)) return Kind.TEXT;
        return Kind.RAW;
    }

    private static boolean looksLikeText(byte[] b) {
        if (b.length == 0) return false;
        String s = new String(b, StandardCharsets.UTF_8);
        if (s.contains("\uFFFD")) return false;
        for (char c : s.toCharArray()) {
            if (c < 32 && c != '\n' && c != '\r' && c != '\t') return false;
        }
        return true;
    }

    /** Describes one file. */
    public ObjectNode describe(Path file) throws IOException {
        ObjectNode d = JSON.createObjectNode();
        d.put("file", file.toString());
        Kind kind = detect(file);
        switch (kind) {
            case HDF5 -> Hdf5Description.describe(file, d);
            case SAFETENSORS -> describeSafetensors(file, d);
            case ZIP, PICKLE -> PickleDescription.describe(file, kind, d, head);
            case TEXT -> describeText(file, d);
            case RAW -> describeGlobal(file, d);
        }
        return d;
    }

    private void describeSafetensors(Path file, ObjectNode d) throws IOException {
        d.put("format", "safetensors");
        try (Safetensors st = Safetensors.open(file)) {
            if (!st.metadata().isEmpty()) {
                ObjectNode m = d.putObject("metadata");
                st.metadata().forEach(m::put);
            }
            ArrayNode t = d.putArray("tensors");
            long params = 0;
            for (Safetensors.Entry e : st.entries()) {
                ObjectNode r = t.addObject();
                r.put("name", e.name());
                r.put("dtype", e.dtype().name());
                r.put("shape", Arrays.toString(e.shape()));
                params += e.numel();
            }
            d.put("tensor_count", st.entries().size());
            d.put("parameters", params);
        }
    }

    private void describeText(Path file, ObjectNode d) throws IOException {
        ImageList list;
        try {
            list = ImageList.read(file);
        } catch (FormatException e) {
            throw new FormatException(file, "a text file but not an image list ('relative_path,label,width,height' lines): "
                    + e.problem());
        }
        d.put("format", "image list");
        d.put("images", list.size());
        d.put("labels", list.numLabels());
        ArrayNode first = d.putArray("first");
        for (int i = 0; i < Math.min(head, list.size()); i++) {
            ImageList.Entry e = list.get(i);
            ObjectNode r = first.addObject();
            r.put("path", e.path());
            r.put("label", e.label());
            r.put("width", e.width());
            r.put("height", e.height());
        }
    }

    private void describeGlobal(Path file, ObjectNode d) throws IOException {
        long size = Files.size(file);
        d.put("format", "global descriptors (headerless float32)");
        d.put("bytes", size);
        if (size == 0 || size % 4 != 0) {
            throw new FormatException(file, "unknown format: " + size + " bytes is not a whole number of float32 values");
        }
        long values = size / 4;
        int dd;
        if (dim != null) {
            if (dim <= 0 || values % dim != 0) {
                throw new FormatException(file, values + " float32 values do not make rows of D = " + dim);
            }
            dd = dim;
        } else {
            dd = Arrays.stream(COMMON_DIMS).filter(x -> values % x == 0).findFirst()
                    .orElseThrow(() -> new FormatException(file, "cannot infer D from " + values
                            + " float32 values; give --dim"));
            d.put("dim_inferred", true);
        }
        d.put("n", values / dd);
        d.put("dim", dd);
        d.put("shape", "[" + values / dd + ", " + dd + "]");
        GlobalDescription.describeRows(file, dd, d, head);
    }

    /** Reads a file that is not found as a FormatException (for uniform messages). */
    static void requireExists(Path file) throws FormatException {
        if (!Files.exists(file)) throw new FormatException(file, "no such file");
    }

}
