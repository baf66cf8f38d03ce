package org.locore.data.features;

import org.junit.jupiter.api.Test;
import org.locore.model.io.FormatException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decoding of serialized selections in virtual dataset mappings, for the encodings the HDF5 library versions
 * installed here do not write (hyperslab selection versions 2 and 3). Bytes are laid out as the HDF5 file
 * format specification describes them.
 */
class VirtualLayoutTest {
    private static final Path FILE = Path.of("master.hdf5");

    private static ByteBuffer buf() {
        return ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static VirtualLayout.Box decode(ByteBuffer b) throws FormatException {
        b.flip();
        VirtualLayout.Box box = VirtualLayout.selection(FILE, b);
        assertEquals(0, b.remaining(), "the whole selection is consumed");
        return box;
    }

    @Test
    void allSelection() throws Exception {
        ByteBuffer b = buf().putInt(3).putInt(1).putInt(0).putInt(0);
        assertTrue(decode(b).isAll());
    }

    @Test
    void version1IrregularOneBlock() throws Exception {
        ByteBuffer b = buf().putInt(2).putInt(1).putInt(0).putInt(36).putInt(3).putInt(1);
        b.putInt(4).putInt(0).putInt(0).putInt(6).putInt(19).putInt(20); // start, then inclusive end
        VirtualLayout.Box box = decode(b);
        assertArrayEquals(new long[]{4, 0, 0}, box.start());
        assertArrayEquals(new long[]{3, 20, 21}, box.size());
    }

    @Test
    void version2Regular() throws Exception {
        ByteBuffer b = buf().putInt(2).putInt(2).put((byte) 1).putInt(0).putInt(3);
        // per dimension: start, stride, count, block (8 bytes each)
        b.putLong(10).putLong(1).putLong(1).putLong(5);
        b.putLong(0).putLong(1).putLong(1).putLong(20);
        b.putLong(0).putLong(7).putLong(3).putLong(7); // three adjacent blocks of 7 = one box of 21
        VirtualLayout.Box box = decode(b);
        assertArrayEquals(new long[]{10, 0, 0}, box.start());
        assertArrayEquals(new long[]{5, 20, 21}, box.size());
    }

    @Test
    void version3RegularWithFourByteValues() throws Exception {
        ByteBuffer b = buf().putInt(2).putInt(3).put((byte) 1).put((byte) 4).putInt(3);
        b.putInt(2).putInt(1).putInt(1).putInt(3);
        b.putInt(0).putInt(1).putInt(1).putInt(20);
        b.putInt(0).putInt(1).putInt(1).putInt(21);
        VirtualLayout.Box box = decode(b);
        assertArrayEquals(new long[]{2, 0, 0}, box.start());
        assertArrayEquals(new long[]{3, 20, 21}, box.size());
    }

    @Test
    void version3IrregularWithTwoByteValues() throws Exception {
        ByteBuffer b = buf().putInt(2).putInt(3).put((byte) 0).put((byte) 2).putInt(3);
        b.putShort((short) 1); // one block
        b.putShort((short) 300).putShort((short) 0).putShort((short) 0);
        b.putShort((short) 399).putShort((short) 699).putShort((short) 132);
        VirtualLayout.Box box = decode(b);
        assertArrayEquals(new long[]{300, 0, 0}, box.start());
        assertArrayEquals(new long[]{100, 700, 133}, box.size());
    }

    @Test
    void unsupportedSelectionsAreClearErrors() {
        ByteBuffer strided = buf().putInt(2).putInt(3).put((byte) 1).put((byte) 4).putInt(1);
        strided.putInt(0).putInt(4).putInt(3).putInt(2);
        FormatException e = assertThrows(FormatException.class, () -> decode(strided));
        assertTrue(e.getMessage().contains("strided") && e.getMessage().contains("master.hdf5"), e.getMessage());

        ByteBuffer unlimited = buf().putInt(2).putInt(3).put((byte) 1).put((byte) 4).putInt(1);
        unlimited.putInt(0).putInt(10).putInt(-1).putInt(10);
        e = assertThrows(FormatException.class, () -> decode(unlimited));
        assertTrue(e.getMessage().contains("unlimited"), e.getMessage());

        ByteBuffer twoBlocks = buf().putInt(2).putInt(1).putInt(0).putInt(0).putInt(1).putInt(2);
        twoBlocks.putInt(0).putInt(1).putInt(3).putInt(4);
        e = assertThrows(FormatException.class, () -> decode(twoBlocks));
        assertTrue(e.getMessage().contains("2 hyperslab blocks"), e.getMessage());

        ByteBuffer points = buf().putInt(1).putInt(1);
        e = assertThrows(FormatException.class, () -> decode(points));
        assertTrue(e.getMessage().contains("point selection"), e.getMessage());
    }
}
