package org.locore.model.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.function.BiFunction;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Damaged pickles and torch.save files: each must fail quickly with a FormatException that names the file and
 * says what is wrong, without hanging or allocating what a corrupt length claims.
 */
class BrokenTorchFilesTest {
    @TempDir
    Path tmp;

    /** Runs {@code read}, expecting a FormatException for {@code file} whose problem contains {@code expect}. */
    private static FormatException fails(Path file, String expect, Executable read) {
        FormatException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(FormatException.class, read));
        assertEquals(file, e.file());
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.problem().contains(expect), "expected '" + expect + "' in: " + e.problem());
        return e;
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static Executable unpickle(Path p) {
        return () -> TorchUnpickler.load(p, Files.readAllBytes(p));
    }

    private static Executable checkpoint(Path p) {
        return () -> TorchCheckpoint.open(p);
    }

    /** Copies a zip, replacing each entry's bytes by {@code edit(name, bytes)} (null drops the entry). */
    private Path rezip(String name, BiFunction<String, byte[], byte[]> edit) throws IOException {
        Path out = tmp.resolve(name);
        try (ZipFile in = new ZipFile(Fixtures.path("pickles/nn_torchsave.pt").toFile());
             OutputStream os = Files.newOutputStream(out);
             ZipOutputStream zos = new ZipOutputStream(os)) {
            for (Enumeration<? extends ZipEntry> en = in.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                byte[] b = edit.apply(e.getName(), in.getInputStream(e).readAllBytes());
                if (b != null) {
                    zos.putNextEntry(new ZipEntry(e.getName()));
                    zos.write(b);
                    zos.closeEntry();
                }
            }
        }
        return out;
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) continue outer;
            }
            return i;
        }
        throw new AssertionError("pattern not found");
    }

    @Test
    void everyTruncationOfAPickleFails() throws IOException {
        byte[] real = Files.readAllBytes(Fixtures.path("pickles/nn_torch.pkl"));
        Path p = tmp.resolve("cut.pkl");
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int n = 0; n < real.length; n++) {
                byte[] cut = Arrays.copyOf(real, n);
                FormatException e = assertThrows(FormatException.class, () -> TorchUnpickler.load(p, cut),
                        "prefix of " + n + " bytes");
                assertEquals(p, e.file());
                assertTrue(e.problem().contains("truncated"), n + " bytes: " + e.problem());
            }
        });
        Path whole = write("whole.pkl", real);
        TorchUnpickler.load(whole, real); // the untouched file reads
    }

    @Test
    void notAPickle() throws IOException {
        Path text = write("notes.txt", "hello, this is text\n".getBytes(StandardCharsets.US_ASCII));
        fails(text, "not a pickle (no protocol header); bad pickle at byte 0", unpickle(text));
        fails(text, "not a torch.save file", checkpoint(text));
        Path empty = write("empty.pt", new byte[0]);
        fails(empty, "truncated", checkpoint(empty));
        Path junk = write("junk.bin", new byte[]{(byte) 0x80, 0x02, (byte) 0xff, 0x00});
        fails(junk, "unknown opcode 0xff", unpickle(junk));
    }

    @Test
    void hugeClaimedLengthsFailWithoutAllocating() throws IOException {
        // BINBYTES8 claiming 2^62 bytes, then nothing
        byte[] b = ByteBuffer.allocate(11).order(ByteOrder.LITTLE_ENDIAN).put((byte) 0x80).put((byte) 4)
                .put((byte) 0x8e).putLong(1L << 62).array();
        Path p = write("huge.pkl", b);
        fails(p, "truncated", unpickle(p));
        // the legacy storage inside nn_torch.pkl claiming 2^62 elements
        byte[] real = Files.readAllBytes(Fixtures.path("pickles/nn_torch.pkl"));
        int at = indexOf(real, new byte[]{60, 0, 0, 0, 0, 0, 0, 0}, 0);
        ByteBuffer.wrap(real).order(ByteOrder.LITTLE_ENDIAN).putLong(at, 1L << 62);
        Path q = write("huge_storage.pkl", real);
        fails(q, "claims " + (1L << 62) + " elements", unpickle(q));
    }

    @Test
    void deeplyNestedContainersFail() throws IOException {
        int n = 200_000;
        byte[] b = new byte[2 + n + (n - 1) + 1];
        b[0] = (byte) 0x80;
        b[1] = 2;
        Arrays.fill(b, 2, 2 + n, (byte) ']');
        Arrays.fill(b, 2 + n, b.length - 1, (byte) 'a');
        b[b.length - 1] = '.';
        Path p = write("deep.pkl", b);
        fails(p, "deeper than", unpickle(p));
    }

    @Test
    void zipWithoutDataPkl() throws IOException {
        Path p = rezip("nodata.pt", (name, bytes) -> name.endsWith("data.pkl") ? null : bytes);
        fails(p, "without <folder>/data.pkl", checkpoint(p));
    }

    @Test
    void zipWithAMissingStorage() throws IOException {
        Path p = rezip("nostorage.pt", (name, bytes) -> name.endsWith("/data/0") ? null : bytes);
        fails(p, "zip entry 'nn_torchsave/data/0' for storage '0' is missing", checkpoint(p));
    }

    @Test
    void storageShorterThanItsRecord() throws IOException {
        Path p = rezip("short.pt", (name, bytes) -> name.endsWith("/data/0") ? Arrays.copyOf(bytes, 400) : bytes);
        fails(p, "storage '0' is too short: 400 bytes", checkpoint(p));
    }

    @Test
    void storageTooShortForTheTensorsSizeAndStride() throws IOException {
        // size (2, 3, 10) -> (2, 3, 11): the view then reaches element 60 of a 60-element storage
        Path p = rezip("view.pt", (name, bytes) -> {
            if (!name.endsWith("data.pkl")) return bytes;
            byte[] b = bytes.clone();
            int at = indexOf(b, new byte[]{'K', 2, 'K', 3, 'K', 10}, 0);
            b[at + 5] = 11;
            return b;
        });
        fails(p, "storage too short, the view reaches element 60 but the storage holds 60 elements", checkpoint(p));
        // the same through a pickled tensor: storage offset 0 -> 1
        byte[] real = Files.readAllBytes(Fixtures.path("pickles/nn_torch.pkl"));
        int at = indexOf(real, new byte[]{'K', 0, 'K', 2, 'K', 3, 'K', 10}, 0);
        real[at + 1] = 1;
        Path q = write("offset.pkl", real);
        fails(q, "storage too short", unpickle(q));
    }

    @Test
    void truncatedZipAndTruncatedDataPkl() throws IOException {
        byte[] real = Files.readAllBytes(Fixtures.path("pickles/nn_torchsave.pt"));
        Path p = write("cut.pt", Arrays.copyOf(real, real.length - 30));
        fails(p, "not a readable zip archive", checkpoint(p));
        Path q = rezip("cutpkl.pt", (name, bytes) -> name.endsWith("data.pkl") ? Arrays.copyOf(bytes, 120) : bytes);
        fails(q, "truncated: the pickle ends without its STOP opcode", checkpoint(q));
    }
}
