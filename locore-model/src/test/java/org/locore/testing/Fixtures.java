package org.locore.testing;

import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Test support shared by every module: locates the top-level {@code src-test-resources} folder (the system
 * property {@code locore.testResources}, set by the build, or found by walking up from the working
 * directory) and compares arrays with tolerances.
 */
public final class Fixtures {
    private static Path root;

    private Fixtures() {
    }

    /** The test-resources folder. */
    public static synchronized Path root() {
        if (root == null) {
            String prop = System.getProperty("locore.testResources");
            if (prop != null && Files.isDirectory(Paths.get(prop))) {
                root = Paths.get(prop).toAbsolutePath().normalize();
            } else {
                Path p = Paths.get("").toAbsolutePath();
                while (p != null && !Files.isDirectory(p.resolve("src-test-resources"))) {
                    p = p.getParent();
                }
                if (p == null) {
                    throw new IllegalStateException("cannot find src-test-resources (set -Dlocore.testResources)");
                }
                root = p.resolve("src-test-resources");
            }
        }
        return root;
    }

    /** A fixture file by its path relative to the test-resources folder; fails the test when missing. */
    public static Path path(String relative) {
        Path p = root().resolve(relative);
        assertTrue(Files.exists(p), "missing test fixture " + p);
        return p;
    }

    /** One tensor of a safetensors fixture. */
    public static Tensor tensor(String relative, String name) throws IOException {
        try (Safetensors st = Safetensors.open(path(relative))) {
            Tensor t = st.get(name);
            // copy out of the mapping so the file can be closed
            return new Tensor(t.name(), t.dtype(), t.shape(), copy(t.bytes()));
        }
    }

    private static java.nio.ByteBuffer copy(java.nio.ByteBuffer b) {
        java.nio.ByteBuffer c = java.nio.ByteBuffer.allocate(b.remaining());
        c.put(b.duplicate());
        c.flip();
        return c;
    }

    /** Asserts |expected - actual| <= atol elementwise, reporting the worst element. */
    public static void assertClose(float[] expected, float[] actual, double atol, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + " != expected " + expected.length);
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) expected[i] - actual[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        if (!(worst <= atol)) {
            fail(what + ": max abs difference " + worst + " > " + atol + " at flat index " + at + " (expected "
                    + expected[at] + ", got " + actual[at] + ")");
        }
    }

    /** Asserts shapes are equal and values agree within an absolute tolerance. */
    public static void assertClose(INDArray expected, INDArray actual, double atol, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape " + Arrays.toString(actual.shape())
                + " != expected " + Arrays.toString(expected.shape()));
        assertClose(expected.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).reshape(-1).toFloatVector(),
                actual.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).reshape(-1).toFloatVector(), atol, what);
    }

    /** Whether a command is on the PATH (for optional cross-checks with Python or h5dump). */
    public static boolean onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Paths.get(dir, command))) return true;
        }
        return false;
    }

    /**
     * A Python 3 interpreter that can import all the given modules (Debian's {@code /usr/bin/python3} first),
     * or null when there is none: tests that cross-check with Python skip with a message then.
     */
    public static String python(String... modules) {
        StringBuilder code = new StringBuilder("import sys");
        for (String m : modules) code.append("; import ").append(m);
        for (String exe : new String[]{"/usr/bin/python3", "python3"}) {
            try {
                Process p = new ProcessBuilder(exe, "-c", code.toString()).redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) && p.exitValue() == 0) return exe;
                p.destroyForcibly();
            } catch (IOException e) {
                // not there
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    /** Runs a Python script with arguments; returns its standard output, failing the test on a non-zero exit. */
    public static String runPython(String exe, String script, String... args) throws IOException, InterruptedException {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(exe, "-c", script));
        cmd.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!p.waitFor(300, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("python timed out: " + out);
        }
        if (p.exitValue() != 0) fail("python failed (" + p.exitValue() + "):\n" + out);
        return out;
    }
}
