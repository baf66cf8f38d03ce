package org.locore.model.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file does not hold what its reader expects. The message always names the file and the problem
 * (shape, dtype, missing key, index out of range...), so that users can act on it without a stack trace.
 */
public class FormatException extends IOException {
    private final Path file;
    private final String problem;

    public FormatException(Path file, String problem) {
        this(file, problem, null);
    }

    public FormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
        this.problem = problem;
    }

    /** The file that is wrong. */
    public Path file() {
        return file;
    }

    /** What is wrong with it, without the file name. */
    public String problem() {
        return problem;
    }
}
