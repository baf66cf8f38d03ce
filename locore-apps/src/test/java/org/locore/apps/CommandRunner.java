package org.locore.apps;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs a {@code locore} command in-process and captures its output. */
public final class CommandRunner {
    private CommandRunner() {
    }

    /** Exit code and captured streams. */
    public record Run(int code, String out, String err) {
    }

    /** Runs {@code locore ARGS...}. */
    public static Run run(String... args) {
        return run(Main.commandLine(), args);
    }

    /** Runs a given command line (e.g. one command built with test doubles). */
    public static Run run(CommandLine cl, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }
}
