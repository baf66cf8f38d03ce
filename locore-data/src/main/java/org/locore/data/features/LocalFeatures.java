package org.locore.data.features;

import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import io.jhdf.api.Node;
import io.jhdf.api.dataset.ChunkedDataset;
import io.jhdf.api.dataset.ContiguousDataset;
import io.jhdf.exceptions.HdfInvalidPathException;
import io.jhdf.exceptions.UnsupportedHdfException;
import io.jhdf.filter.PipelineFilterWithData;
import io.jhdf.object.datatype.CompoundDataType;
import io.jhdf.object.datatype.DataType;
import org.locore.model.io.FormatException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A file of local features: HDF5 dataset {@code features} holding, per image, {@code K} rows of
 * {@code [y, x, scale index, mask (1 = padding), weight, descriptor(D)]}. Four stored layouts are read:
 * <ul>
 *   <li>{@code contiguous}: float {@code [N, K, 5 + D]} stored contiguously (what LOCORE's extractor writes),
 *       memory-mapped in several mappings (files larger than 2 GB work);</li>
 *   <li>{@code chunked}: the same, chunked and possibly compressed (gzip, shuffle...), read chunk by chunk;</li>
 *   <li>{@code compound}: 1-D compound records {@code {metadata: float[K, 5], descriptor: float[K, D]}} (the
 *       AMES-served files, descriptors usually float16), contiguous or chunked;</li>
 *   <li>{@code virtual}: an HDF5 virtual dataset stitched over part files (named relative to this file's
 *       folder), each part read as one of the layouts above.</li>
 * </ul>
 * Only the rows asked for are read: nothing is loaded when the file is opened. Every method is thread-safe.
 * Problems with the file's content are reported as {@link FormatException}s naming the file and the
 * problem; wrong arguments (an image index out of range, more rows than {@code K}) as
 * {@link IllegalArgumentException}s naming the file.
 */
public final class LocalFeatures implements AutoCloseable {
    /** The name of the dataset read by {@link #open(Path)}. */
    public static final String DATASET = "features";
    private static final Logger LOG = LoggerFactory.getLogger(LocalFeatures.class);
    private static final byte[] SIGNATURE = {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    private static final int MAX_NESTING = 8;
    /** The most bytes one image's record may take (guards against corrupt shapes). */
    private static final long MAX_RECORD_BYTES = 1L << 30;

    private final Path file;
    private final String layout;
    private final String storedType;
    private final String compression;
    private final int numImages;
    private final int rows;
    private final int dim;
    private final List<Path> partFiles;
    private final FeatureSource source;
    private final boolean ownsHdf;
    private volatile boolean closed;

    private LocalFeatures(Path file, String layout, String storedType, String compression, long[] dims, int dim,
                          List<Path> partFiles, FeatureSource source, boolean ownsHdf) {
        this.file = file;
        this.layout = layout;
        this.storedType = storedType;
        this.compression = compression;
        this.numImages = (int) dims[0];
        this.rows = (int) dims[1];
        this.dim = dim;
        this.partFiles = List.copyOf(partFiles);
        this.source = source;
        this.ownsHdf = ownsHdf;
    }

    /** Opens the dataset {@value #DATASET} of an HDF5 file, detecting its layout. */
    public static LocalFeatures open(Path file) throws IOException {
        return open(file, DATASET, 0, MappedRecords.DEFAULT_MAPPING_BYTES);
    }

    /** Opens dataset {@code dataset} (a path from the root group) of an HDF5 file. */
    public static LocalFeatures open(Path file, String dataset) throws IOException {
        return open(file, dataset, 0, MappedRecords.DEFAULT_MAPPING_BYTES);
    }

    /**
     * Opens with at most {@code mappingBytes} bytes per memory mapping of contiguous data (tests of the
     * logic for files larger than 2 GB use small values).
     */
    static LocalFeatures open(Path file, String dataset, int depth, long mappingBytes) throws IOException {
        long size = checkSignature(file);
        HdfFile hdf;
        try {
            hdf = new HdfFile(file);
        } catch (RuntimeException e) {
            throw new FormatException(file, "not a readable HDF5 file (corrupt or truncated superblock): "
                    + describe(e), e);
        }
        boolean keepOpen = false;
        try {
            // HDF5 stores the end-of-file address counting the user block (if any), i.e. as the file size
            long eof = hdf.getHdfBackingStorage().getSuperblock().getEndOfFileAddress();
            if (eof > size) {
                throw new FormatException(file, "truncated: the HDF5 superblock records " + eof
                        + " bytes but the file has " + size);
            }
            Node node;
            try {
                node = hdf.getByPath(dataset);
            } catch (HdfInvalidPathException e) {
                throw new FormatException(file, "missing dataset '" + dataset + "' (the file holds "
                        + childNames(hdf) + ")", e);
            } catch (RuntimeException e) {
                if (isVirtualRefusal(e)) {
                    LocalFeatures lf = openVirtual(file, hdf, dataset, depth, mappingBytes);
                    return lf;
                }
                throw new FormatException(file, "cannot read the HDF5 structure: " + describe(e), e);
            }
            if (!(node instanceof Dataset ds)) {
                throw new FormatException(file, "'" + dataset + "' is a " + node.getType().name()
                        .toLowerCase(Locale.ROOT) + ", not a dataset");
            }
            LocalFeatures lf = openDataset(file, hdf, ds, dataset, size, mappingBytes);
            keepOpen = lf.ownsHdf;
            return lf;
        } catch (FormatException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new FormatException(file, "cannot read dataset '" + dataset + "': " + describe(e), e);
        } finally {
            if (!keepOpen) {
                hdf.close();
            }
        }
    }

    /** Checks that the file exists and carries the HDF5 signature (at 0, 512, 1024, ...); returns its size. */
    private static long checkSignature(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new FormatException(file, Files.exists(file) ? "not a regular file" : "no such file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                throw new FormatException(file, "empty file, not HDF5");
            }
            ByteBuffer b = ByteBuffer.allocate(SIGNATURE.length);
            for (long at = 0; at + SIGNATURE.length <= size; at = at == 0 ? 512 : at * 2) {
                b.clear();
                while (b.hasRemaining() && ch.read(b, at + b.position()) > 0) {
                    // keep reading
                }
                if (!b.hasRemaining() && Arrays.equals(b.array(), SIGNATURE)) {
                    return size;
                }
            }
            throw new FormatException(file, "not an HDF5 file (no HDF5 signature found)");
        }
    }

    private static String childNames(HdfFile hdf) {
        try {
            return hdf.getChildren().isEmpty() ? "nothing" : String.valueOf(hdf.getChildren().keySet());
        } catch (RuntimeException e) {
            return "unreadable groups";
        }
    }

    private static boolean isVirtualRefusal(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnsupportedHdfException && String.valueOf(t.getMessage()).contains("Virtual")) {
                return true;
            }
        }
        return false;
    }

    private static LocalFeatures openDataset(Path file, HdfFile hdf, Dataset ds, String name, long fileSize,
                                             long mappingBytes) throws IOException {
        long[] dims = ds.getDimensionsAsLong();
        DataType type = ds.getDataType();
        String shape = Arrays.toString(dims);
        if (type instanceof CompoundDataType compound) {
            if (dims.length != 1) {
                throw new FormatException(file, "compound dataset '" + name + "' has shape " + shape
                        + "; expected one dimension (one record per image)");
            }
            return openCompound(file, hdf, ds, compound, dims, fileSize, mappingBytes);
        }
        FloatType ft = FloatType.of(type);
        if (ft == null) {
            throw new FormatException(file, "dataset '" + name + "' has dtype " + FloatType.describe(type)
                    + "; expected float32 (or float16/float64)");
        }
        if (dims.length != 3) {
            throw new FormatException(file, "dataset '" + name + "' has rank " + dims.length + " (shape " + shape
                    + "); expected rank 3 [N, K, 5 + D]");
        }
        if (dims[2] < 6) {
            throw new FormatException(file, "dataset '" + name + "' has shape " + shape + ": the last dimension "
                    + dims[2] + " is less than 5 + D with D >= 1 (y, x, scale, mask, weight, descriptor)");
        }
        checkSizes(file, dims, dims[1] * dims[2] * ft.size());
        int recordBytes = (int) (dims[1] * dims[2] * ft.size());
        int dim = (int) dims[2] - 5;
        if (ds instanceof ContiguousDataset cd) {
            MappedRecords store = mapContiguous(file, hdf, cd, dims[0], recordBytes, fileSize, mappingBytes);
            return new LocalFeatures(file, "contiguous", ft.name(), "none", dims, dim, List.of(),
                    new DenseSource(store, ft, (int) dims[2]), false);
        }
        if (ds instanceof ChunkedDataset chunked) {
            ChunkedRecords store = new ChunkedRecords(file, hdf, name, chunked, dims, ft.size());
            return new LocalFeatures(file, "chunked", ft.name(), compression(ds), dims, dim, List.of(),
                    new DenseSource(store, ft, (int) dims[2]), true);
        }
        throw new FormatException(file, "dataset '" + name + "' has an unsupported storage layout "
                + ds.getDataLayout());
    }

    private static void checkSizes(Path file, long[] dims, long recordBytes) throws FormatException {
        if (dims[0] > Integer.MAX_VALUE || dims[1] > Integer.MAX_VALUE || dims.length > 2 && dims[2] > Integer.MAX_VALUE) {
            throw new FormatException(file, "shape " + Arrays.toString(dims) + " is too large");
        }
        if (recordBytes > MAX_RECORD_BYTES) {
            throw new FormatException(file, "one image takes " + recordBytes + " bytes (shape "
                    + Arrays.toString(dims) + "): more than " + MAX_RECORD_BYTES + " is not supported");
        }
    }

    private static MappedRecords mapContiguous(Path file, HdfFile hdf, ContiguousDataset cd, long count,
                                               int recordBytes, long fileSize, long mappingBytes)
            throws IOException {
        long total = count * recordBytes;
        long address = cd.getDataAddress();
        if (total > 0 && (address < 0 || address == 0xffffffffffffffffL)) {
            throw new FormatException(file, "the features dataset has no data written (undefined address)");
        }
        long offset = address + hdf.getUserBlockSize();
        if (total > 0 && offset + total > fileSize) {
            throw new FormatException(file, "truncated: the data needs bytes [" + offset + ", " + (offset + total)
                    + ") but the file has " + fileSize + " bytes");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            // the mappings stay valid after the channel is closed
            return new MappedRecords(ch, offset, count, recordBytes, mappingBytes);
        }
    }

    private static String compression(Dataset ds) {
        List<PipelineFilterWithData> filters = ds.getFilters();
        if (filters == null || filters.isEmpty()) {
            return "none";
        }
        List<String> names = new ArrayList<>();
        for (PipelineFilterWithData f : filters) {
            names.add(switch (f.getId()) {
                case 1 -> "gzip";
                case 2 -> "shuffle";
                case 3 -> "fletcher32";
                case 32000 -> "lzf";
                case 32004 -> "lz4";
                case 32008 -> "bitshuffle";
                default -> f.getName();
            });
        }
        Collections.reverse(names); // in decoding order: "gzip+shuffle"
        return String.join("+", names);
    }

    private static LocalFeatures openCompound(Path file, HdfFile hdf, Dataset ds, CompoundDataType jhdfType,
                                              long[] dims, long fileSize, long mappingBytes) throws IOException {
        // jhdf misreads array members of compound types: decode the datatype message ourselves
        Hdf5Headers.Message message = Hdf5Headers.find(
                Hdf5Headers.messages(hdf.getHdfBackingStorage(), ds.getAddress()), Hdf5Headers.DATATYPE);
        if (message == null || message.shared()) {
            throw new FormatException(file, "compound features: cannot find an inline datatype message");
        }
        StoredType type = StoredType.decode(message.data().duplicate());
        if (type.hdfClass() != 6 || type.size() != jhdfType.getSize()) {
            throw new FormatException(file, "compound features: inconsistent datatype " + type.describe());
        }
        StoredType.Member meta = type.member("metadata");
        StoredType.Member desc = type.member("descriptor");
        String described = type.describe();
        if (meta == null || desc == null) {
            throw new FormatException(file, "compound features " + described
                    + " lack the members 'metadata' (float[K, 5]) and 'descriptor' (float[K, D])");
        }
        int[] md = meta.type().hdfClass() == 10 ? meta.type().dims() : null;
        int[] dd = desc.type().hdfClass() == 10 ? desc.type().dims() : null;
        FloatType mt = meta.type().floatType();
        FloatType dt = desc.type().floatType();
        if (md == null || md.length != 2 || md[1] != 5 || mt == null) {
            throw new FormatException(file, "compound member 'metadata' is " + meta.type().describe()
                    + "; expected a float array [K, 5]");
        }
        if (dd == null || dd.length != 2 || dd[0] != md[0] || dd[1] < 1 || dt == null) {
            throw new FormatException(file, "compound member 'descriptor' is " + desc.type().describe()
                    + "; expected a float array [" + md[0] + ", D]");
        }
        int recordBytes = type.size();
        long metaEnd = meta.offset() + (long) md[0] * 5 * mt.size();
        long descEnd = desc.offset() + (long) dd[0] * dd[1] * dt.size();
        if (metaEnd > recordBytes || descEnd > recordBytes) {
            throw new FormatException(file, "compound members overrun the record size " + recordBytes);
        }
        long[] logical = {dims[0], md[0], 5L + dd[1]};
        checkSizes(file, logical, recordBytes);
        String stored = "compound{metadata: " + mt.name() + "[" + md[0] + ",5], descriptor: " + dt.name() + "["
                + dd[0] + "," + dd[1] + "]}";
        RecordStore store;
        boolean keep = false;
        String compression = "none";
        if (ds instanceof ContiguousDataset cd) {
            store = mapContiguous(file, hdf, cd, dims[0], recordBytes, fileSize, mappingBytes);
        } else if (ds instanceof ChunkedDataset chunked) {
            store = new ChunkedRecords(file, hdf, ds.getPath(), chunked, dims, recordBytes);
            keep = true;
            compression = compression(ds);
        } else {
            throw new FormatException(file, "compound features with unsupported storage layout " + ds.getDataLayout());
        }
        CompoundSource source = new CompoundSource(store, meta.offset(), mt, desc.offset(), dt, dd[1]);
        return new LocalFeatures(file, "compound", stored, compression, logical, dd[1], List.of(), source, keep);
    }

    private static LocalFeatures openVirtual(Path file, HdfFile hdf, String dataset, int depth, long mappingBytes)
            throws IOException {
        if (depth >= MAX_NESTING) {
            throw new FormatException(file, "virtual datasets nested more than " + MAX_NESTING + " deep (a cycle?)");
        }
        VirtualLayout vl = VirtualLayout.read(file, hdf, dataset);
        long[] dims = vl.dims();
        FloatType ft = FloatType.of(vl.type());
        if (ft == null) {
            throw new FormatException(file, "virtual dataset '" + dataset + "' has dtype "
                    + FloatType.describe(vl.type()) + "; expected float32 (or float16/float64)");
        }
        if (dims.length != 3 || dims[2] < 6) {
            throw new FormatException(file, "virtual dataset '" + dataset + "' has shape " + Arrays.toString(dims)
                    + "; expected [N, K, 5 + D] with D >= 1");
        }
        checkSizes(file, dims, dims[1] * dims[2] * 4);
        Path folder = file.toAbsolutePath().getParent();
        Map<String, LocalFeatures> opened = new LinkedHashMap<>();
        List<VirtualSource.Range> ranges = new ArrayList<>();
        try {
            for (VirtualLayout.Mapping m : vl.mappings()) {
                Path part = m.sourceFile().equals(".") ? file : folder.resolve(m.sourceFile());
                String key = part.toAbsolutePath().normalize() + "\0" + m.sourceDataset();
                LocalFeatures lf = opened.get(key);
                if (lf == null) {
                    if (!Files.exists(part)) {
                        throw new FormatException(file, "virtual dataset part file " + part + " is missing");
                    }
                    if (part.equals(file) && (m.sourceDataset().equals(dataset)
                            || m.sourceDataset().equals("/" + dataset))) {
                        throw new FormatException(file, "virtual dataset '" + dataset + "' maps onto itself");
                    }
                    try {
                        lf = open(part, m.sourceDataset(), depth + 1, mappingBytes);
                    } catch (FormatException e) {
                        throw new FormatException(file, "virtual dataset part " + part + ": " + e.problem(), e);
                    }
                    opened.put(key, lf);
                }
                ranges.add(range(file, dims, m, lf));
            }
            ranges.sort((a, b) -> Long.compare(a.start(), b.start()));
            long next = 0;
            for (VirtualSource.Range r : ranges) {
                if (r.start() > next) {
                    throw new FormatException(file, "virtual dataset images [" + next + ", " + r.start()
                            + ") are not mapped to any part file");
                }
                if (r.start() < next) {
                    throw new FormatException(file, "virtual dataset mappings overlap at image " + r.start());
                }
                next = r.start() + r.count();
            }
            if (next < dims[0]) {
                throw new FormatException(file, "virtual dataset images [" + next + ", " + dims[0]
                        + ") are not mapped to any part file");
            }
        } catch (IOException | RuntimeException e) {
            for (LocalFeatures lf : opened.values()) {
                lf.close();
            }
            throw e;
        }
        List<Path> parts = new ArrayList<>();
        for (LocalFeatures lf : opened.values()) {
            if (!parts.contains(lf.file())) parts.add(lf.file());
        }
        List<LocalFeatures> readers = new ArrayList<>(opened.values());
        LOG.debug("{}: virtual dataset over {} part files", file, parts.size());
        return new LocalFeatures(file, "virtual", ft.name(), "none", dims, (int) dims[2] - 5, parts,
                new VirtualSource(ranges.toArray(new VirtualSource.Range[0]), readers), false);
    }

    /** Checks one mapping (whole rows of whole images, same shape on both sides) and turns it into a range. */
    private static VirtualSource.Range range(Path file, long[] dims, VirtualLayout.Mapping m, LocalFeatures part)
            throws FormatException {
        long[] partDims = part.shape();
        VirtualLayout.Box t = m.target().isAll() ? new VirtualLayout.Box(new long[3], dims) : m.target();
        VirtualLayout.Box s = m.source().isAll() ? new VirtualLayout.Box(new long[3], partDims) : m.source();
        String what = "virtual dataset mapping from " + m.sourceFile() + ":" + m.sourceDataset() + " (" + m.source()
                + " -> " + m.target() + ")";
        if (t.start().length != 3 || s.start().length != 3) {
            throw new FormatException(file, what + ": selections must have rank 3");
        }
        if (partDims[1] != dims[1] || partDims[2] != dims[2]) {
            throw new FormatException(file, what + ": part shape " + Arrays.toString(partDims)
                    + " does not match the virtual shape " + Arrays.toString(dims) + " in K or 5 + D");
        }
        for (int d = 1; d < 3; d++) {
            if (t.start()[d] != 0 || t.size()[d] != dims[d] || s.start()[d] != 0 || s.size()[d] != dims[d]) {
                throw new FormatException(file, what + ": only mappings of whole images are supported");
            }
        }
        if (t.size()[0] != s.size()[0]) {
            throw new FormatException(file, what + ": source and target hold different numbers of images");
        }
        if (t.start()[0] < 0 || t.start()[0] + t.size()[0] > dims[0]
                || s.start()[0] < 0 || s.start()[0] + s.size()[0] > partDims[0]) {
            throw new FormatException(file, what + ": selection outside the dataset");
        }
        return new VirtualSource.Range(t.start()[0], t.size()[0], part, s.start()[0]);
    }

    /** A short description of an exception and its causes, for messages. */
    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 500; t = t.getCause()) {
            String m = t.getMessage();
            if (sb.length() > 0) sb.append(" <- ");
            sb.append(m != null ? m : t.getClass().getSimpleName());
            if (t.getCause() == t) break;
        }
        return sb.toString();
    }

    /** The file read. */
    public Path file() {
        return file;
    }

    /** Number of images N. */
    public int numImages() {
        return numImages;
    }

    /** Rows per image K (real features followed by padding). */
    public int rowsPerImage() {
        return rows;
    }

    /** Descriptor dimension D. */
    public int descriptorDim() {
        return dim;
    }

    /** Values per logical row, {@code 5 + D}. */
    public int rowWidth() {
        return 5 + dim;
    }

    /** The logical shape {@code [N, K, 5 + D]}. */
    public long[] shape() {
        return new long[]{numImages, rows, 5L + dim};
    }

    /** "contiguous", "chunked", "compound" or "virtual". */
    public String layout() {
        return layout;
    }

    /**
     * The stored element type: "float32" (or "float16"/"float64"), or for compound files e.g.
     * "compound{metadata: float32[700,5], descriptor: float16[700,128]}".
     */
    public String storedType() {
        return storedType;
    }

    /** The filters of a chunked dataset in decoding order, e.g. "gzip+shuffle"; "none" otherwise. */
    public String compression() {
        return compression;
    }

    /** The part files of a virtual dataset (in mapping order); empty for other layouts. */
    public List<Path> partFiles() {
        return partFiles;
    }

    /** All {@code K} rows of one image. */
    public ImageFeatures read(int image) throws IOException {
        return read(image, rows);
    }

    /** The first {@code n} rows of one image ({@code n <= K}). */
    public ImageFeatures read(int image, int n) throws IOException {
        float[] flat = readRows(image, n);
        return ImageFeatures.fromRows(flat, 0, n, dim);
    }

    /** The first {@code n} logical rows of one image, row-major {@code [n, 5 + D]}. */
    public float[] readRows(int image, int n) throws IOException {
        checkRows(n);
        float[] out = new float[n * (5 + dim)];
        readRowsInto(image, n, out, 0);
        return out;
    }

    /** Writes the first {@code n} logical rows of one image ({@code n * (5 + D)} values) to {@code dst[off ..]}. */
    public void readRowsInto(int image, int n, float[] dst, int off) throws IOException {
        if (closed) {
            throw new IllegalStateException(file + ": reader is closed");
        }
        if (image < 0 || image >= numImages) {
            throw new IllegalArgumentException(file + ": image " + image + " out of range [0, " + numImages + ")");
        }
        checkRows(n);
        long need = (long) n * (5 + dim);
        if (off < 0 || off + need > dst.length) {
            throw new IllegalArgumentException(file + ": destination [" + off + ", " + (off + need)
                    + ") outside an array of " + dst.length);
        }
        if (n == 0) {
            return;
        }
        try {
            source.readRows(image, n, dst, off);
        } catch (FormatException | InterruptedIOException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new FormatException(file, "cannot read image " + image + ": " + describe(e), e);
        }
    }

    /**
     * Fills {@code dst[off ..]} with the first {@code n} rows of each listed image: a row-major
     * {@code [images.length, n, 5 + D]} block.
     */
    public void readBatch(int[] images, int n, float[] dst, int off) throws IOException {
        checkRows(n);
        long need = (long) images.length * n * (5 + dim);
        if (off < 0 || off + need > dst.length) {
            throw new IllegalArgumentException(file + ": batch of " + images.length + " x " + n + " rows needs "
                    + need + " values from " + off + ", the array has " + dst.length);
        }
        int stride = n * (5 + dim);
        for (int i = 0; i < images.length; i++) {
            readRowsInto(images[i], n, dst, off + i * stride);
        }
    }

    /** {@link #readBatch(int[], int, float[], int)} into a new array. */
    public float[] readBatch(int[] images, int n) throws IOException {
        checkRows(n);
        float[] out = new float[Math.toIntExact((long) images.length * n * (5 + dim))];
        readBatch(images, n, out, 0);
        return out;
    }

    private void checkRows(int n) {
        if (n < 0 || n > rows) {
            throw new IllegalArgumentException(file + ": asked for " + n + " rows per image, the file has K = " + rows);
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        source.close();
    }

    @Override
    public String toString() {
        return "LocalFeatures[" + file + ", " + layout + ", " + storedType + ", shape " + Arrays.toString(shape())
                + ", compression " + compression + "]";
    }
}
