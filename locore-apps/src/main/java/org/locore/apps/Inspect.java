package org.locore.apps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.apps.inspect.FileInspector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code locore inspect FILE...}: the format of each file and what it holds. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Tells what is in LOCORE files: HDF5 local features (datasets, shape, dtype, layout, part files,",
                "images), safetensors and PyTorch checkpoints (tensor table, parameter count), shortlist pickles,",
                "ground truth, image lists and headerless global descriptor files."})
public final class Inspect implements Callable<Integer> {

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "files to inspect")
    List<Path> files = new ArrayList<>();

    @Option(names = "--json", description = "print one JSON array with an object per file")
    boolean json;

    @Option(names = "--dim", paramLabel = "D",
            description = "descriptor dimension of headerless global descriptor files (default: inferred)")
    Integer dim;

    @Option(names = "--head", paramLabel = "N", defaultValue = "5",
            description = "how many leading entries of lists to show (default: ${DEFAULT-VALUE})")
    int head;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        FileInspector inspector = new FileInspector(dim, head);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ArrayNode all = mapper.createArrayNode();
        int failures = 0;
        for (Path f : files) {
            ObjectNode d;
            try {
                d = inspector.describe(f);
            } catch (java.io.IOException | RuntimeException e) {
                d = mapper.createObjectNode();
                d.put("file", f.toString());
                d.put("format", "error");
                d.put("error", e.getMessage() == null ? e.toString() : e.getMessage());
                failures++;
            }
            if (json) {
                all.add(d);
            } else {
                printText(out, d, "");
                out.println();
            }
        }
        if (json) {
            out.println(mapper.writeValueAsString(all));
        }
        out.flush();
        return failures == 0 ? 0 : 2;
    }

    /** Plain-text rendering: scalars as "key: value", arrays of objects as aligned tables. */
    static void printText(PrintWriter out, JsonNode node, String indent) {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (v.isObject()) {
                out.println(indent + e.getKey() + ":");
                printText(out, v, indent + "  ");
            } else if (v.isArray() && v.size() > 0 && v.get(0).isObject()) {
                out.println(indent + e.getKey() + ":");
                printTable(out, (ArrayNode) v, indent + "  ");
            } else {
                out.println(indent + e.getKey() + ": " + (v.isTextual() ? v.asText() : v.toString()));
            }
        }
    }

    private static void printTable(PrintWriter out, ArrayNode rows, String indent) {
        List<String> cols = new ArrayList<>();
        rows.forEach(r -> r.fieldNames().forEachRemaining(c -> { if (!cols.contains(c)) cols.add(c); }));
        int[] w = new int[cols.size()];
        for (int i = 0; i < w.length; i++) w[i] = cols.get(i).length();
        List<String[]> cells = new ArrayList<>();
        for (JsonNode r : rows) {
            String[] c = new String[cols.size()];
            for (int i = 0; i < c.length; i++) {
                JsonNode v = r.get(cols.get(i));
                c[i] = v == null ? "" : v.isTextual() ? v.asText() : v.toString();
                w[i] = Math.max(w[i], c[i].length());
            }
            cells.add(c);
        }
        StringBuilder h = new StringBuilder(indent);
        for (int i = 0; i < w.length; i++) h.append(String.format("%-" + (w[i] + 2) + "s", cols.get(i)));
        out.println(h.toString().stripTrailing());
        for (String[] c : cells) {
            StringBuilder b = new StringBuilder(indent);
            for (int i = 0; i < w.length; i++) b.append(String.format("%-" + (w[i] + 2) + "s", c[i]));
            out.println(b.toString().stripTrailing());
        }
    }
}
