package org.locore.model.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes files so that nothing already on disk is lost: the content goes to a temporary file in the same
 * folder, is flushed to disk, and only then replaces the target by an atomic rename.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes the content that {@code body} produces. */
    @FunctionalInterface
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** A temporary path beside {@code target} (same folder, so the final rename is atomic). */
    public static Path temporaryBeside(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        return Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
    }

    /** Writes {@code target} atomically from {@code body}. */
    public static void write(Path target, Body body) throws IOException {
        Path tmp = temporaryBeside(target);
        try {
            try (var fos = new java.io.FileOutputStream(tmp.toFile());
                 OutputStream out = new BufferedOutputStream(fos, 1 << 16)) {
                body.writeTo(out);
                out.flush();
                fos.getChannel().force(true);
            }
            commit(tmp, target);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Moves a finished temporary file over the target, atomically where the file system allows. */
    public static void commit(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
