package org.locore.apps;

import org.locore.model.io.FormatException;
import org.locore.model.rowops.BlasLibrary;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * {@code locore}: the command-line entry point ({@code bin/locore COMMAND ...} or
 * {@code mvn -pl locore-apps exec:java@COMMAND -Dexec.args="..."}). Options may also be read from a file:
 * {@code bin/locore train @train.args} reads one option per line from {@code train.args}.
 */
@Command(name = "locore", mixinStandardHelpOptions = true, version = "locore 0.1.0",
        description = "LOCORE long-context image re-ranking on the JVM.",
        subcommands = {Inspect.class, Score.class, ShortlistCommand.class, Evaluate.class,
                org.locore.apps.gridsearch.GridSearch.class, org.locore.apps.rerank.Rerank.class,
                org.locore.apps.demo.DemoCommand.class, org.locore.apps.extract.Extract.class, org.locore.apps.train.Train.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Builds the command line with the project's error handling (bad input: a one-line message, exit 2). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        // options from a file (@train.args) may be overridden by later ones on the command line
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            Throwable t = ex;
            while (!(t instanceof FormatException) && t.getCause() != null && t.getCause() != t) {
                t = t.getCause();
            }
            if (t instanceof FormatException || t instanceof java.nio.file.NoSuchFileException
                    || t instanceof IllegalArgumentException) {
                err.println("error: " + t.getMessage());
                err.flush();
                return 2;
            }
            throw ex;
        });
        return cl;
    }

    /**
     * Runs a command. A Maven exec goal ({@code exec:java@train}) names its command with the system property
     * {@code locore.command}; it is put in front of the arguments unless they already start with it.
     */
    public static void main(String[] args) {
        // before anything loads ND4J: MKL in OpenBLAS's place where it is present and the CPU is Intel's
        try {
            BlasLibrary.select();
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
        }
        String command = System.getProperty("locore.command");
        int code = commandLine().execute(withCommand(command, args));
        if (command == null || code != 0) {
            // under exec:java (locore.command set) a successful run returns to Maven instead of ending its JVM
            System.exit(code);
        }
    }

    static String[] withCommand(String command, String[] args) {
        if (command == null || command.isBlank() || (args.length > 0 && args[0].equals(command))) {
            return args;
        }
        String[] out = new String[args.length + 1];
        out[0] = command;
        System.arraycopy(args, 0, out, 1, args.length);
        return out;
    }
}
