package org.locore.data.features;

import io.jhdf.GlobalHeap;
import io.jhdf.HdfFile;
import io.jhdf.object.datatype.DataType;
import io.jhdf.object.message.DataSpace;
import io.jhdf.storage.HdfBackingStorage;
import org.locore.model.io.FormatException;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The description of an HDF5 virtual dataset (layout class 3), which jhdf refuses to open: its dataspace,
 * datatype and the list of mappings from source datasets (in other files, named relative to this one) to
 * boxes of the virtual dataset. The object header and the mapping list (a global-heap object) are decoded
 * here following the HDF5 file format specification; jhdf supplies the superblock, groups, the dataspace and
 * datatype messages and the global heap.
 *
 * <p>Only selections that are one box each are supported ("all", a single hyperslab block, or a regular
 * hyperslab without gaps); strided, point and unlimited selections are reported as unsupported.
 */
final class VirtualLayout {
    /** Hyperslab count or block value meaning "unlimited". */
    private static final long UNLIMITED = -1L;

    /** A box of a dataset: per-dimension start and size; null {@code start} means the whole dataset. */
    record Box(long[] start, long[] size) {
        static final Box ALL = new Box(null, null);

        boolean isAll() {
            return start == null;
        }

        @Override
        public String toString() {
            return isAll() ? "all" : "start " + Arrays.toString(start) + " size " + Arrays.toString(size);
        }
    }

    /** One mapping: the source file name as stored, the source dataset and both selections. */
    record Mapping(String sourceFile, String sourceDataset, Box source, Box target) {
    }

    private final long[] dims;
    private final DataType type;
    private final List<Mapping> mappings;

    private VirtualLayout(long[] dims, DataType type, List<Mapping> mappings) {
        this.dims = dims;
        this.type = type;
        this.mappings = mappings;
    }

    /** The virtual dataset's dimensions. */
    long[] dims() {
        return dims.clone();
    }

    /** The virtual dataset's element type. */
    DataType type() {
        return type;
    }

    /** The mappings in stored order. */
    List<Mapping> mappings() {
        return mappings;
    }

    /**
     * Reads the description of dataset {@code path} (slash-separated, from the root group).
     *
     * @throws FormatException when the dataset is missing, is not virtual, or its description cannot be decoded
     */
    static VirtualLayout read(Path file, HdfFile hdf, String path) throws FormatException {
        HdfBackingStorage storage = hdf.getHdfBackingStorage();
        try {
            long address = Hdf5Headers.locate(file, storage, hdf.getAddress(), path);
            return parse(file, storage, address, path);
        } catch (FormatException e) {
            throw e;
        } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new FormatException(file, "virtual dataset '" + path + "': truncated or corrupt description", e);
        } catch (RuntimeException e) {
            throw new FormatException(file, "virtual dataset '" + path + "': " + LocalFeatures.describe(e), e);
        }
    }

    private static VirtualLayout parse(Path file, HdfBackingStorage storage, long address, String path)
            throws FormatException {
        DataSpace space = null;
        DataType type = null;
        ByteBuffer layout = null;
        for (Hdf5Headers.Message m : Hdf5Headers.messages(storage, address)) {
            if (m.shared() && (m.type() == 1 || m.type() == 3 || m.type() == 8)) {
                throw new FormatException(file, "dataset '" + path + "': shared header messages are not supported");
            }
            switch (m.type()) {
                case 0x01 -> space = DataSpace.readDataSpace(m.data(), storage.getSuperblock());
                case 0x03 -> type = DataType.readDataType(m.data());
                case 0x08 -> layout = m.data();
                default -> {
                }
            }
        }
        if (space == null || type == null || layout == null) {
            throw new FormatException(file, "'" + path + "' is not a dataset");
        }
        int version = layout.get(0) & 0xff;
        int layoutClass = layout.get(1) & 0xff;
        if (version != 4 || layoutClass != 3) {
            throw new FormatException(file, "dataset '" + path + "' is not virtual (layout version " + version
                    + ", class " + layoutClass + ")");
        }
        layout.position(2);
        long heapAddress = Hdf5Headers.readUnsigned(layout, storage.getSizeOfOffsets());
        int index = layout.getInt();
        // check the heap collection's size before jhdf reads (and allocates) it
        Hdf5Headers.checkInside(storage, heapAddress, 16, "global heap");
        ByteBuffer gcol = Hdf5Headers.le(storage.readBufferFromAddress(heapAddress, 16));
        long collectionSize = Hdf5Headers.readUnsigned(gcol.position(8), Math.min(8, storage.getSizeOfLengths()));
        Hdf5Headers.checkInside(storage, heapAddress, collectionSize, "global heap collection");
        ByteBuffer blob = Hdf5Headers.le(new GlobalHeap(storage, heapAddress).getObjectData(index));
        List<Mapping> mappings = decodeMappings(file, blob, storage.getSizeOfLengths());
        return new VirtualLayout(space.getDimensionsAsLong(), type, mappings);
    }

    private static List<Mapping> decodeMappings(Path file, ByteBuffer b, int sizeOfLengths) throws FormatException {
        int version = b.get() & 0xff;
        if (version > 1) {
            throw new FormatException(file, "unsupported virtual dataset mapping version " + version);
        }
        long n = Hdf5Headers.readUnsigned(b, sizeOfLengths);
        if (n < 0 || n > b.remaining()) {
            throw new FormatException(file, "corrupt virtual dataset mapping: " + n + " entries in " + b.remaining()
                    + " bytes");
        }
        List<Mapping> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int flags = version >= 1 ? b.get() & 0xff : 0;
            String srcFile;
            if ((flags & 0x04) != 0) {
                srcFile = ".";
            } else if ((flags & 0x01) != 0) {
                srcFile = out.get(Math.toIntExact(Hdf5Headers.readUnsigned(b, sizeOfLengths))).sourceFile();
            } else {
                srcFile = Hdf5Headers.cString(b);
            }
            String srcDataset = (flags & 0x02) != 0
                    ? out.get(Math.toIntExact(Hdf5Headers.readUnsigned(b, sizeOfLengths))).sourceDataset() : Hdf5Headers.cString(b);
            Box source = selection(file, b);
            Box target = selection(file, b);
            out.add(new Mapping(srcFile, srcDataset, source, target));
        }
        return out;
    }

    /** Decodes one serialized dataspace selection into a box. */
    static Box selection(Path file, ByteBuffer b) throws FormatException {
        int kind = b.getInt();
        int version = b.getInt();
        switch (kind) {
            case 3 -> { // all
                b.position(b.position() + 8);
                return Box.ALL;
            }
            case 2 -> {
                return hyperslab(file, b, version);
            }
            case 0 -> throw new FormatException(file, "virtual dataset mapping with an empty selection is not supported");
            case 1 -> throw new FormatException(file, "virtual dataset mapping with a point selection is not supported");
            default -> throw new FormatException(file, "unknown selection type " + kind + " in virtual dataset mapping");
        }
    }

    private static Box hyperslab(Path file, ByteBuffer b, int version) throws FormatException {
        int flags = 0;
        int enc;
        if (version == 1) {
            b.position(b.position() + 8); // reserved, length
            enc = 4;
        } else if (version == 2) {
            flags = b.get() & 0xff;
            b.getInt(); // length
            enc = 8;
        } else if (version == 3) {
            flags = b.get() & 0xff;
            enc = b.get() & 0xff;
        } else {
            throw new FormatException(file, "unsupported hyperslab selection version " + version);
        }
        int rank = b.getInt();
        if (rank <= 0 || rank > 32) {
            throw new FormatException(file, "hyperslab selection of rank " + rank);
        }
        long[] start = new long[rank];
        long[] size = new long[rank];
        if ((flags & 1) != 0) { // regular: start, stride, count, block per dimension
            for (int d = 0; d < rank; d++) {
                long s = readSigned(b, enc);
                long stride = readSigned(b, enc);
                long count = readSigned(b, enc);
                long block = readSigned(b, enc);
                if (count == UNLIMITED || block == UNLIMITED) {
                    throw new FormatException(file, "unlimited virtual dataset mappings are not supported");
                }
                start[d] = s;
                if (count == 1) {
                    size[d] = block;
                } else if (stride == block) {
                    size[d] = count * block;
                } else {
                    throw new FormatException(file, "strided virtual dataset mappings are not supported");
                }
            }
        } else {
            long blocks = Hdf5Headers.readUnsigned(b, enc);
            if (blocks != 1) {
                throw new FormatException(file, "virtual dataset mappings of " + blocks
                        + " hyperslab blocks are not supported (one box per mapping)");
            }
            for (int d = 0; d < rank; d++) {
                start[d] = Hdf5Headers.readUnsigned(b, enc);
            }
            for (int d = 0; d < rank; d++) {
                size[d] = Hdf5Headers.readUnsigned(b, enc) - start[d] + 1;
            }
        }
        return new Box(start, size);
    }

    /** Like {@link #readUnsigned} but an all-ones value of any size reads as -1 (HDF5's "unlimited"). */
    private static long readSigned(ByteBuffer b, int bytes) {
        long v = Hdf5Headers.readUnsigned(b, bytes);
        if (bytes < 8 && v == (1L << (8 * bytes)) - 1) {
            return UNLIMITED;
        }
        return v;
    }
}
