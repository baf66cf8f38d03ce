package org.locore.data.features;

import io.jhdf.GroupSymbolTableNode;
import io.jhdf.LocalHeap;
import io.jhdf.ObjectHeader;
import io.jhdf.SymbolTableEntry;
import io.jhdf.btree.BTreeV1;
import io.jhdf.object.message.LinkMessage;
import io.jhdf.object.message.SymbolTableMessage;
import io.jhdf.storage.HdfBackingStorage;
import org.locore.model.io.FormatException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Low-level HDF5 decoding that jhdf does not offer for the objects it refuses (virtual datasets) or misreads
 * (array members of compound types): finding an object by path, the raw messages of an object header, and
 * little-endian integers and strings. Follows the HDF5 file format specification; malformed input raises
 * runtime exceptions that callers turn into {@link FormatException}s.
 */
final class Hdf5Headers {
    private static final int MAX_HEADER_BLOCKS = 1024;

    /** Object header message types used here. */
    static final int DATASPACE = 0x01;
    static final int DATATYPE = 0x03;
    static final int LAYOUT = 0x08;

    private Hdf5Headers() {
    }

    /** One object header message: its type, flags and a little-endian view of its data. */
    record Message(int type, int flags, ByteBuffer data) {
        /** Whether the message is stored elsewhere and only referred to here. */
        boolean shared() {
            return (flags & 0x02) != 0;
        }
    }

    /** The first message of a type, or null. */
    static Message find(List<Message> messages, int type) {
        for (Message m : messages) {
            if (m.type() == type) {
                return m;
            }
        }
        return null;
    }

    /** Finds the object header address of {@code path} by walking the groups from the root. */
    static long locate(Path file, HdfBackingStorage storage, long root, String path) throws FormatException {
        long address = root;
        for (String name : path.split("/")) {
            if (name.isEmpty()) {
                continue;
            }
            long child = child(storage, address, name);
            if (child < 0) {
                throw new FormatException(file, "missing dataset '" + path + "' (no link '" + name + "')");
            }
            address = child;
        }
        return address;
    }

    /** The address of link {@code name} of the group at {@code group}, or -1. */
    private static long child(HdfBackingStorage storage, long group, String name) {
        ObjectHeader header = ObjectHeader.readObjectHeader(storage, group);
        if (header.hasMessageOfType(SymbolTableMessage.class)) {
            SymbolTableMessage stm = header.getMessageOfType(SymbolTableMessage.class);
            ByteBuffer names = new LocalHeap(storage, stm.getLocalHeapAddress()).getDataBuffer();
            return searchBTree(storage, stm.getBTreeAddress(), names, name, 0);
        }
        for (LinkMessage link : header.getMessagesOfType(LinkMessage.class)) {
            if (link.getLinkName().equals(name) && link.getLinkType() == LinkMessage.LinkType.HARD) {
                return link.getHardLinkAddress();
            }
        }
        return -1;
    }

    private static long searchBTree(HdfBackingStorage storage, long address, ByteBuffer names, String name, int depth) {
        if (depth > 64) {
            throw new IllegalStateException("group B-tree is too deep (a cycle?)");
        }
        for (long childAddress : BTreeV1.createGroupBTree(storage, address).getChildAddresses()) {
            ByteBuffer sig = storage.readBufferFromAddress(childAddress, 4);
            String s = StandardCharsets.US_ASCII.decode(sig).toString();
            if (s.equals("TREE")) {
                long found = searchBTree(storage, childAddress, names, name, depth + 1);
                if (found >= 0) {
                    return found;
                }
                continue;
            }
            for (SymbolTableEntry e : new GroupSymbolTableNode(storage, childAddress).getSymbolTableEntries()) {
                if (cString(names.duplicate().position(e.getLinkNameOffset())).equals(name)) {
                    return e.getObjectHeaderAddress();
                }
            }
        }
        return -1;
    }

    /**
     * The raw messages of the object header at {@code address} (header versions 1 and 2, following
     * continuation blocks), continuation messages left out.
     */
    static List<Message> messages(HdfBackingStorage storage, long address) {
        int so = storage.getSizeOfOffsets();
        int sl = storage.getSizeOfLengths();
        List<Message> out = new ArrayList<>();
        ByteBuffer start = le(storage.readBufferFromAddress(address, 16));
        boolean v2 = start.getInt(0) == 0x5244484f; // "OHDR"
        List<long[]> blocks = new ArrayList<>();
        boolean trackOrder;
        if (v2) {
            int flags = start.get(5) & 0xff;
            trackOrder = (flags & 0x04) != 0;
            int pos = 6 + ((flags & 0x20) != 0 ? 16 : 0) + ((flags & 0x10) != 0 ? 4 : 0);
            ByteBuffer head = le(storage.readBufferFromAddress(address, pos + 8));
            int sizeBytes = 1 << (flags & 3);
            long size = readUnsigned(head.position(pos), sizeBytes);
            blocks.add(new long[]{address + pos + sizeBytes, size});
        } else {
            if (start.get(0) != 1) {
                throw new IllegalStateException("unknown object header version " + start.get(0));
            }
            trackOrder = false;
            long size = start.getInt(8) & 0xffffffffL;
            blocks.add(new long[]{address + 16, size});
        }
        for (int b = 0; b < blocks.size(); b++) {
            if (b >= MAX_HEADER_BLOCKS) {
                throw new IllegalStateException("too many object header continuation blocks");
            }
            long[] block = blocks.get(b);
            checkInside(storage, block[0], block[1], "object header block");
            ByteBuffer buf = le(storage.readBufferFromAddress(block[0], (int) block[1]));
            if (v2 && b > 0) {
                buf.position(4); // "OCHK"
                buf.limit(buf.limit() - 4); // checksum
            }
            int headerBytes = v2 ? 4 + (trackOrder ? 2 : 0) : 8;
            while (buf.remaining() >= headerBytes) {
                int type;
                int size;
                int flags;
                if (v2) {
                    type = buf.get() & 0xff;
                    size = buf.getShort() & 0xffff;
                    flags = buf.get() & 0xff;
                    if (trackOrder) {
                        buf.getShort();
                    }
                } else {
                    type = buf.getShort() & 0xffff;
                    size = buf.getShort() & 0xffff;
                    flags = buf.get() & 0xff;
                    buf.position(buf.position() + 3);
                }
                if (size > buf.remaining()) {
                    throw new IllegalStateException("object header message of " + size + " bytes overruns its block");
                }
                ByteBuffer data = le(buf.slice(buf.position(), size));
                buf.position(buf.position() + size);
                if (type == 0x10) { // continuation
                    long at = readUnsigned(data, so);
                    long len = readUnsigned(data, sl);
                    blocks.add(new long[]{at, len});
                } else {
                    out.add(new Message(type, flags, data));
                }
            }
        }
        return out;
    }

    /** Throws unless {@code [address, address + length)} lies inside the file (and fits one buffer). */
    static void checkInside(HdfBackingStorage storage, long address, long length, String what) {
        if (address < 0 || length < 0 || length > Integer.MAX_VALUE || address + length > storage.size()) {
            throw new IllegalStateException(what + " of " + length + " bytes at address " + address
                    + " lies outside the file (" + storage.size() + " bytes)");
        }
    }

    static ByteBuffer le(ByteBuffer b) {
        return b.order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads an unsigned little-endian integer of 1, 2, 3, 4 or 8 bytes (8-byte all-ones reads as -1). */
    static long readUnsigned(ByteBuffer b, int bytes) {
        return switch (bytes) {
            case 1 -> b.get() & 0xffL;
            case 2 -> b.getShort() & 0xffffL;
            case 3 -> (b.getShort() & 0xffffL) | (b.get() & 0xffL) << 16;
            case 4 -> b.getInt() & 0xffffffffL;
            case 8 -> b.getLong();
            default -> throw new IllegalStateException("unsupported integer size " + bytes);
        };
    }

    /** A null-terminated UTF-8 string from the buffer's position; the position moves past the terminator. */
    static String cString(ByteBuffer b) {
        int begin = b.position();
        int end = begin;
        while (b.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - begin];
        b.get(bytes);
        b.get();
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
