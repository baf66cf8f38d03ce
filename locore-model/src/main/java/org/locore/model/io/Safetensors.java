package org.locore.model.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (HuggingFace): an 8-byte little-endian header length, a JSON header mapping tensor
 * names to {@code dtype}, {@code shape} and {@code data_offsets}, then the tensors' bytes.
 *
 * <p>Reading validates the header completely (known dtypes, byte counts that match the shapes, offsets inside
 * the file that tile the data area) and memory-maps each tensor on demand, so files larger than 2 GB and
 * files far larger than the heap work. Writing produces the same bytes as the reference library
 * ({@code safetensors.torch.save_file}): tensors ordered by dtype (widest first) then name, a compact
 * header padded with spaces to a multiple of 8, and it writes to a temporary file that is renamed into place.
 */
public final class Safetensors implements AutoCloseable {
    /** The reference library refuses headers larger than this. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Name, element type, shape and the byte range of one stored tensor. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long numel() {
            return Tensor.numel(shape);
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape);
        }
    }

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private Safetensors(Path file, FileChannel channel, long dataStart, Map<String, Entry> entries,
                        Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates a safetensors file; tensors are mapped when asked for. */
    public static Safetensors open(Path file) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file");
        }
        try {
            long size = ch.size();
            if (size < 8) {
                throw new FormatException(file, "not a safetensors file: " + size + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, file);
            long n = lenBuf.getLong(0);
            if (n <= 0 || n > MAX_HEADER_BYTES) {
                throw new FormatException(file, "not a safetensors file: header length " + Long.toUnsignedString(n)
                        + " (must be 1.." + MAX_HEADER_BYTES + ")");
            }
            if (8 + n > size) {
                throw new FormatException(file, "truncated: header of " + n + " bytes but the file has " + size + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8, file);
            String header = new String(hb.array(), StandardCharsets.UTF_8);
            if (!header.startsWith("{")) {
                throw new FormatException(file, "not a safetensors file: the header does not start with '{'");
            }
            JsonNode root;
            try {
                root = JSON.readTree(header);
            } catch (JsonProcessingException e) {
                throw new FormatException(file, "header is not valid JSON: " + e.getOriginalMessage());
            }
            if (root == null || !root.isObject()) {
                throw new FormatException(file, "header is not a JSON object");
            }
            long dataStart = 8 + n;
            long dataLength = size - dataStart;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    if (!f.getValue().isObject()) {
                        throw new FormatException(file, "__metadata__ must be an object of strings");
                    }
                    for (Iterator<Map.Entry<String, JsonNode>> m = f.getValue().fields(); m.hasNext(); ) {
                        Map.Entry<String, JsonNode> kv = m.next();
                        if (!kv.getValue().isTextual()) {
                            throw new FormatException(file, "__metadata__ value of '" + kv.getKey() + "' is not a string");
                        }
                        metadata.put(kv.getKey(), kv.getValue().asText());
                    }
                    continue;
                }
                entries.put(f.getKey(), parseEntry(file, f.getKey(), f.getValue(), dataLength));
            }
            checkTiling(file, entries, dataLength);
            return new Safetensors(file, ch, dataStart, Collections.unmodifiableMap(entries),
                    Collections.unmodifiableMap(metadata));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataLength) throws FormatException {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw new FormatException(file, where + ": header entry is not an object");
        }
        JsonNode dt = node.get("dtype");
        JsonNode sh = node.get("shape");
        JsonNode off = node.get("data_offsets");
        if (dt == null || !dt.isTextual()) {
            throw new FormatException(file, where + ": missing or non-string 'dtype'");
        }
        DType dtype = DType.fromSafetensorsName(dt.asText());
        if (dtype == null) {
            throw new FormatException(file, where + ": unsupported dtype '" + dt.asText() + "'");
        }
        if (sh == null || !sh.isArray()) {
            throw new FormatException(file, where + ": missing or non-array 'shape'");
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new FormatException(file, where + ": shape entry " + d + " is not a non-negative integer");
            }
            shape[i] = d.asLong();
        }
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                || !off.get(1).isIntegralNumber()) {
            throw new FormatException(file, where + ": 'data_offsets' must be two integers");
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new FormatException(file, where + ": invalid data_offsets [" + begin + ", " + end + "]");
        }
        if (end > dataLength) {
            throw new FormatException(file, where + ": data_offsets [" + begin + ", " + end
                    + "] point past the end of the file (data area is " + dataLength + " bytes; truncated file?)");
        }
        long expected;
        try {
            expected = Math.multiplyExact(Tensor.numel(shape), dtype.size());
        } catch (ArithmeticException e) {
            throw new FormatException(file, where + ": shape " + Arrays.toString(shape) + " overflows");
        }
        if (end - begin != expected) {
            throw new FormatException(file, where + ": " + (end - begin) + " bytes stored but shape "
                    + Arrays.toString(shape) + " of " + dtype + " needs " + expected);
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static void checkTiling(Path file, Map<String, Entry> entries, long dataLength) throws FormatException {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long pos = 0;
        for (Entry e : sorted) {
            if (e.begin() != pos) {
                throw new FormatException(file, "tensor '" + e.name() + "' starts at byte " + e.begin()
                        + " of the data area but the previous tensor ends at " + pos + " (overlap or gap)");
            }
            pos = e.end();
        }
        if (pos != dataLength) {
            throw new FormatException(file, "the data area has " + dataLength + " bytes but the tensors cover " + pos);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file) throws IOException {
        long p = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, p);
            if (r < 0) {
                throw new FormatException(file, "truncated: unexpected end of file at byte " + p);
            }
            p += r;
        }
    }

    /** The file this was opened from. */
    public Path file() {
        return file;
    }

    /** Tensor names in header order. */
    public Collection<String> names() {
        return entries.keySet();
    }

    /** All header entries in header order. */
    public Collection<Entry> entries() {
        return entries.values();
    }

    /** The {@code __metadata__} strings (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The header entry of a tensor, or a {@link FormatException} naming the file and the missing tensor. */
    public Entry entry(String name) throws FormatException {
        Entry e = entries.get(name);
        if (e == null) {
            throw new FormatException(file, "no tensor named '" + name + "' (the file has " + entries.size() + " tensors)");
        }
        return e;
    }

    /** A tensor backed by a memory-mapped view of the file. */
    public Tensor get(String name) throws IOException {
        Entry e = entry(name);
        long len = e.end() - e.begin();
        if (len > Integer.MAX_VALUE) {
            throw new FormatException(file, "tensor '" + name + "' is " + len + " bytes; tensors over 2 GB cannot be mapped as one buffer");
        }
        ByteBuffer buf = len == 0 ? ByteBuffer.allocate(0)
                : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), len);
        return new Tensor(name, e.dtype(), e.shape(), buf);
    }

    /** Reads every tensor of a file (mapped), in header order. */
    public static Map<String, Tensor> readAll(Path file) throws IOException {
        try (Safetensors st = open(file)) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String n : st.names()) {
                out.put(n, st.get(n));
            }
            return out;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** Writes tensors without metadata; see {@link #write(Path, Collection, Map)}. */
    public static void write(Path file, Collection<Tensor> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /**
     * Writes a safetensors file byte-identical to what the reference library writes for the same tensors:
     * written to a temporary file beside the target, then renamed over it.
     */
    public static void write(Path file, Collection<Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<Tensor> order = new ArrayList<>(tensors);
        order.sort(Comparator.comparing(Tensor::dtype, Comparator.reverseOrder()).thenComparing(Tensor::name));
        StringBuilder h = new StringBuilder("{");
        boolean first = true;
        if (metadata != null && !metadata.isEmpty()) {
            h.append(quote("__metadata__")).append(":{");
            boolean f2 = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (!f2) h.append(',');
                h.append(quote(m.getKey())).append(':').append(quote(m.getValue()));
                f2 = false;
            }
            h.append('}');
            first = false;
        }
        long offset = 0;
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Tensor t : order) {
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "' for " + file);
            }
            long len = t.numel() * t.dtype().size();
            if (!first) h.append(',');
            first = false;
            h.append(quote(t.name())).append(":{\"dtype\":\"").append(t.dtype().name()).append("\",\"shape\":[");
            long[] s = t.shape();
            for (int i = 0; i < s.length; i++) {
                if (i > 0) h.append(',');
                h.append(s[i]);
            }
            h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + len).append("]}");
            offset += len;
        }
        h.append('}');
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) / 8 * 8;
        byte[] hp = Arrays.copyOf(header, padded);
        Arrays.fill(hp, header.length, padded, (byte) ' ');
        AtomicFiles.write(file, out -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
            out.write(len.array());
            out.write(hp);
            var ch = Channels.newChannel(out);
            for (Tensor t : order) {
                ByteBuffer b = t.bytes();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
        });
    }

    private static String quote(String s) {
        return new TextNode(s).toString();
    }

}
