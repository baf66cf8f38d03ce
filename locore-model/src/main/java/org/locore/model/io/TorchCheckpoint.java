package org.locore.model.io;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * A file written by {@code torch.save}: the zip format of PyTorch 1.6 and later ({@code <folder>/data.pkl}
 * with the pickled object and {@code <folder>/data/<key>} with each storage's bytes) or the legacy format (a
 * sequence of pickles: magic number, protocol version, system info, the object, the storage keys, then each
 * storage's bytes prefixed by its element count). The whole object is read when the file is opened; tensors
 * are {@link Tensor}s with the element type they were stored with, strided views materialised.
 */
public final class TorchCheckpoint {
    private static final Logger LOG = LoggerFactory.getLogger(TorchCheckpoint.class);
    private static final List<String> WRAPPER_KEYS = List.of("state_dict", "state", "model");

    /** The two layouts {@code torch.save} writes. */
    public enum Format {
        /** Zip archive with {@code data.pkl} (PyTorch 1.6+ default). */
        ZIP,
        /** Sequence of pickles followed by raw storages ({@code _use_new_zipfile_serialization=False}). */
        LEGACY
    }

    private final Path file;
    private final Format format;
    private final Object root;

    private TorchCheckpoint(Path file, Format format, Object root) {
        this.file = file;
        this.format = format;
        this.root = root;
    }

    /** Reads a {@code torch.save} file of either format. */
    public static TorchCheckpoint open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new FormatException(file, Files.exists(file) ? "not a regular file" : "no such file");
        }
        if (isZip(file)) {
            return new TorchCheckpoint(file, Format.ZIP, readZip(file));
        }
        byte[] bytes = readSmallFile(file);
        return new TorchCheckpoint(file, Format.LEGACY, TorchUnpickler.resolve(file, readLegacy(file, bytes)));
    }

    /** True when the file starts like a zip archive ({@code PK\3\4}). */
    public static boolean isZip(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(4);
            return head.length == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file");
        }
    }

    /** The file read. */
    public Path file() {
        return file;
    }

    /** Which layout the file uses. */
    public Format format() {
        return format;
    }

    /** The saved object: maps, lists, strings, numbers and {@link Tensor}s (see {@link TorchUnpickler}). */
    public Object root() {
        return root;
    }

    /**
     * The tensors of the saved state dict, by name, in file order. A root dict holding one of the keys
     * {@code state_dict}, {@code state} or {@code model} (and that value is a dict) is unwrapped; nested dicts
     * are flattened with '.' between names; entries that are not tensors are skipped.
     */
    public Map<String, Tensor> stateDict() throws FormatException {
        if (!(root instanceof Map<?, ?> top)) {
            throw new FormatException(file, "holds a " + TorchUnpickler.typeName(root) + ", not a state dict");
        }
        Map<?, ?> m = top;
        String found = null;
        for (String k : WRAPPER_KEYS) {
            if (m.get(k) instanceof Map<?, ?>) {
                if (found != null) {
                    found = null;
                    break;
                }
                found = k;
            }
        }
        if (found != null) {
            LOG.debug("{}: state dict under key '{}'", file, found);
            m = (Map<?, ?>) m.get(found);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        flatten("", m, out);
        if (out.isEmpty()) {
            throw new FormatException(file, "no tensors in the state dict");
        }
        return Collections.unmodifiableMap(out);
    }

    private void flatten(String prefix, Map<?, ?> m, Map<String, Tensor> out) throws FormatException {
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String name = prefix + e.getKey();
            Object v = e.getValue();
            if (v instanceof Tensor t) {
                if (out.containsKey(name)) {
                    throw new FormatException(file, "tensor name '" + name + "' occurs twice after flattening");
                }
                out.put(name, new Tensor(name, t.dtype(), t.shape(), t.bytes()));
            } else if (v instanceof Map<?, ?> sub) {
                flatten(name + ".", sub, out);
            } else {
                LOG.debug("{}: skipping non-tensor entry '{}' ({})", file, name, TorchUnpickler.typeName(v));
            }
        }
    }

    // ------------------------------------------------------------------------------------------ zip format

    private static Object readZip(Path file) throws IOException {
        long fileSize = Files.size(file);
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new FormatException(file, "not a readable zip archive (truncated?): " + e.getMessage());
        }
        try (zip) {
            String prefix = null;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                String n = en.nextElement().getName();
                int slash = n.indexOf('/');
                if (slash > 0 && n.substring(slash + 1).equals("data.pkl")) {
                    prefix = n.substring(0, slash + 1);
                    break;
                }
            }
            if (prefix == null) {
                throw new FormatException(file, "zip archive without <folder>/data.pkl: not a torch.save file");
            }
            ZipEntry order = zip.getEntry(prefix + "byteorder");
            if (order != null) {
                String bo = new String(entryBytes(file, zip, order, 64, fileSize), StandardCharsets.US_ASCII).trim();
                if (!bo.equals("little")) {
                    throw new FormatException(file, "byte order '" + bo + "' is not supported (only little-endian)");
                }
            }
            byte[] pickle = entryBytes(file, zip, zip.getEntry(prefix + "data.pkl"), Integer.MAX_VALUE - 8, fileSize);
            final String dataPrefix = prefix + "data/";
            Map<String, TorchStorage> storages = new HashMap<>();
            TorchUnpickler u = new TorchUnpickler(file, pid -> {
                StorageRef ref = StorageRef.parse(file, pid, false);
                TorchStorage s = storages.get(ref.key);
                if (s == null) {
                    s = TorchStorage.lazy(ref.key, ref.dtype, () -> {
                        ZipEntry e = zip.getEntry(dataPrefix + ref.key);
                        if (e == null) {
                            throw new FormatException(file, "zip entry '" + dataPrefix + ref.key + "' for storage '"
                                    + ref.key + "' is missing");
                        }
                        long need = ref.numel * ref.dtype.size();
                        if (e.getSize() >= 0 && e.getSize() < need) {
                            throw new FormatException(file, "storage '" + ref.key + "' is too short: " + e.getSize()
                                    + " bytes but its record says " + ref.numel + " elements of " + ref.dtype
                                    + " (" + need + " bytes)");
                        }
                        byte[] b = entryBytes(file, zip, e, Integer.MAX_VALUE - 8, fileSize);
                        if (b.length < need) {
                            throw new FormatException(file, "storage '" + ref.key + "' is too short: " + b.length
                                    + " bytes but " + need + " needed");
                        }
                        return ByteBuffer.wrap(b, 0, (int) need).order(ByteOrder.LITTLE_ENDIAN);
                    });
                    storages.put(ref.key, s);
                } else if (s.dtype() != ref.dtype) {
                    throw new FormatException(file, "storage '" + ref.key + "' used as " + s.dtype() + " and " + ref.dtype);
                }
                return s;
            });
            Object raw = u.loadRaw(pickle, 0, pickle.length);
            return TorchUnpickler.resolve(file, raw);
        }
    }

    /** Reads one zip entry, refusing sizes beyond {@code limit} or implausible for the archive's size. */
    private static byte[] entryBytes(Path file, ZipFile zip, ZipEntry e, long limit, long fileSize)
            throws FormatException {
        long size = e.getSize();
        long plausible = e.getMethod() == ZipEntry.STORED ? fileSize : Math.min(Long.MAX_VALUE / 2, fileSize * 1100);
        if (size > limit || size > plausible) {
            throw new FormatException(file, "zip entry '" + e.getName() + "' claims " + size + " bytes, more than "
                    + Math.min(limit, plausible) + " allowed");
        }
        try (InputStream in = zip.getInputStream(e)) {
            int want = size >= 0 ? (int) size : (int) Math.min(limit, plausible);
            byte[] b = in.readNBytes(want);
            if (size >= 0 && b.length != size) {
                throw new FormatException(file, "zip entry '" + e.getName() + "' is truncated: " + b.length
                        + " of " + size + " bytes");
            }
            return b;
        } catch (IOException ex) {
            if (ex instanceof FormatException fe) throw fe;
            throw new FormatException(file, "cannot read zip entry '" + e.getName() + "': " + ex.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------ legacy format

    private static byte[] readSmallFile(Path file) throws IOException {
        long size = Files.size(file);
        if (size > Integer.MAX_VALUE - 8) {
            throw new FormatException(file, "legacy-format file of " + size + " bytes: over 2 GB is not supported");
        }
        return Files.readAllBytes(file);
    }

    /** The persistent id of a storage: ('storage', class, key, location, numel[, view metadata]). */
    private record StorageRef(String key, DType dtype, long numel, String viewKey, long viewOffset, long viewSize) {
        static StorageRef parse(Path file, Object pid, boolean legacy) throws FormatException {
            if (!(pid instanceof List<?> t) || t.size() < 5 || !"storage".equals(t.get(0))) {
                throw new FormatException(file, "unsupported persistent id " + pid + " (expected a storage record)");
            }
            if (!(t.get(1) instanceof TorchUnpickler.Global g)) {
                throw new FormatException(file, "storage record " + pid + " without a storage class");
            }
            DType dtype = TorchStorage.dtypeOfStorageClass(g.toString());
            if (dtype == null) {
                throw new FormatException(file, "unsupported storage type " + g);
            }
            if (!(t.get(2) instanceof String key) || !(t.get(4) instanceof Long numel) || numel < 0) {
                throw new FormatException(file, "malformed storage record " + pid);
            }
            String viewKey = null;
            long off = 0;
            long size = 0;
            if (legacy && t.size() > 5 && t.get(5) instanceof List<?> view) {
                if (view.size() != 3 || !(view.get(0) instanceof String vk) || !(view.get(1) instanceof Long o)
                        || !(view.get(2) instanceof Long s)) {
                    throw new FormatException(file, "malformed storage view record " + pid);
                }
                viewKey = vk;
                off = o;
                size = s;
            }
            return new StorageRef(key, dtype, numel, viewKey, off, size);
        }
    }

    /**
     * Reads a legacy-format {@code torch.save} held in {@code bytes}; storages are filled, tensors still
     * deferred (see {@link TorchUnpickler#resolve}).
     */
    static Object readLegacy(Path file, byte[] bytes) throws FormatException {
        Map<String, TorchStorage> storages = new LinkedHashMap<>();
        TorchUnpickler u = new TorchUnpickler(file, pid -> {
            if (pid instanceof List<?> t && !t.isEmpty() && "module".equals(t.get(0))) {
                return null; // source of a pickled nn.Module class: not needed
            }
            StorageRef ref = StorageRef.parse(file, pid, true);
            TorchStorage root = storages.get(ref.key);
            if (root == null) {
                root = TorchStorage.lazy(ref.key, ref.dtype, null);
                storages.put(ref.key, root);
            } else if (root.dtype() != ref.dtype) {
                throw new FormatException(file, "storage '" + ref.key + "' used as " + root.dtype() + " and " + ref.dtype);
            }
            if (ref.viewKey == null) {
                return root;
            }
            return TorchStorage.view(ref.viewKey, root, ref.viewOffset, ref.viewSize);
        });
        Object magic;
        try {
            magic = u.loadRaw(bytes, 0, bytes.length);
        } catch (FormatException e) {
            throw new FormatException(file, "not a torch.save file (neither a zip archive nor the legacy format): "
                    + e.problem(), e);
        }
        if (!(magic instanceof BigInteger b) || !TorchUnpickler.LEGACY_MAGIC.equals(b)) {
            throw new FormatException(file, "not a torch.save file: no zip header and no legacy magic number");
        }
        Object protocol = u.loadRaw(bytes, u.position(), bytes.length);
        if (!Long.valueOf(TorchUnpickler.LEGACY_PROTOCOL).equals(protocol)) {
            throw new FormatException(file, "unsupported legacy torch.save protocol " + protocol);
        }
        Object sysInfo = u.loadRaw(bytes, u.position(), bytes.length);
        if (sysInfo instanceof Map<?, ?> si && Boolean.FALSE.equals(si.get("little_endian"))) {
            throw new FormatException(file, "big-endian legacy torch.save files are not supported");
        }
        Object root = u.loadRaw(bytes, u.position(), bytes.length);
        Object keys = u.loadRaw(bytes, u.position(), bytes.length);
        if (!(keys instanceof List<?> keyList)) {
            throw new FormatException(file, "legacy torch.save: storage key list is a " + TorchUnpickler.typeName(keys));
        }
        int pos = u.position();
        for (Object k : keyList) {
            TorchStorage s = storages.get(String.valueOf(k));
            if (s == null) {
                throw new FormatException(file, "legacy torch.save: storage '" + k + "' is listed but never used");
            }
            if (bytes.length - pos < 8) {
                throw new FormatException(file, "truncated: storage '" + k + "' has no element count (byte " + pos + ")");
            }
            long numel = ByteBuffer.wrap(bytes, pos, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            pos += 8;
            long left = bytes.length - pos;
            int esz = s.dtype().size();
            if (numel < 0 || numel > left / esz) {
                throw new FormatException(file, "truncated: storage '" + k + "' claims " + numel + " elements of "
                        + s.dtype() + " but only " + left + " bytes are left");
            }
            int n = (int) (numel * esz);
            s.fill(ByteBuffer.wrap(bytes, pos, n));
            pos += n;
        }
        for (TorchStorage s : storages.values()) {
            try {
                s.data(file);
            } catch (FormatException e) {
                throw new FormatException(file, "legacy torch.save: storage '" + s.key() + "' has no data");
            }
        }
        return root;
    }

    /** {@code torch.storage._load_from_bytes}: a legacy {@code torch.save} of one storage. */
    static TorchStorage loadLegacyStorage(Path file, byte[] bytes) throws FormatException {
        Object root = readLegacy(file, bytes);
        if (!(root instanceof TorchStorage s)) {
            throw new FormatException(file, "torch.storage._load_from_bytes holds a " + TorchUnpickler.typeName(root)
                    + ", not a storage");
        }
        return s;
    }
}
