package org.locore.apps;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.data.eval.Gldv2Evaluator;
import org.locore.data.eval.Gldv2Result;
import org.locore.data.eval.ProtocolResult;
import org.locore.data.eval.RevisitedEvaluator;
import org.locore.data.eval.RevisitedResult;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.io.FormatException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code locore evaluate}: Revisited Oxford/Paris metrics (Easy, Medium, Hard: mAP and mP@1/5/10) of a ranking
 * file, or GLDv2 mAP@100 (public, private, all) when the ground truth holds {@code ok} lists; prints one JSON
 * object.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = {"Evaluates rankings against a ground truth and prints one JSON object:",
                "{\"easy\": {\"map\", \"mp@1\", \"mp@5\", \"mp@10\"}, \"medium\": ..., \"hard\": ...} (fractions in [0, 1])",
                "for Revisited Oxford/Paris, {\"public_map\", \"private_map\", \"map\"} for a GLDv2 ground truth.",
                "RANKS is a shortlist pickle (row 1 = ranked gallery ids per query) or a text file with one",
                "line of space-separated gallery ids per query."})
public final class Evaluate implements Callable<Integer> {

    @Option(names = "--gnd", required = true, paramLabel = "GND.pkl", description = "ground truth (gnd_<dataset>.pkl)")
    Path gnd;

    @Option(names = "--ranks", required = true, paramLabel = "RANKS", description = "shortlist pickle or text ranking file")
    Path ranks;

    @Option(names = "--top", paramLabel = "N", description = "evaluate only the first N entries of each ranking (default: all)")
    Integer top;

    @Option(names = "--per-query", description = "also print the per-query APs (null for queries without positives)")
    boolean perQuery;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (top != null && top < 1) throw new IllegalArgumentException("--top must be positive, got " + top);
        GroundTruth g = GroundTruth.read(gnd);
        int[][] r = readRankings(ranks);
        if (r.length != g.numQueries()) {
            throw new FormatException(ranks, "holds " + r.length + " rankings but " + gnd + " has "
                    + g.numQueries() + " queries");
        }
        if (top != null) {
            for (int i = 0; i < r.length; i++) r[i] = Arrays.copyOf(r[i], Math.min(top, r[i].length));
        }
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode out = isGldv2(g) ? gldv2Json(mapper, new Gldv2Evaluator(g).evaluate(r), perQuery)
                : revisitedJson(mapper, new RevisitedEvaluator(g).evaluate(r), perQuery);
        spec.commandLine().getOut().println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(out));
        spec.commandLine().getOut().flush();
        return 0;
    }

    /** Whether a ground truth is GLDv2-style ({@code ok} lists, no easy/hard). */
    public static boolean isGldv2(GroundTruth g) {
        for (GroundTruth.Query q : g.queries()) {
            if (q.ok().length > 0) return true;
            if (q.easy().length > 0 || q.hard().length > 0) return false;
        }
        return false;
    }

    /** The metrics of one protocol as JSON ({@code map}, {@code mp@1}, {@code mp@5}, {@code mp@10}, optional {@code aps}). */
    public static ObjectNode protocolJson(ObjectMapper mapper, ProtocolResult p, boolean perQuery) {
        ObjectNode o = mapper.createObjectNode();
        number(o, "map", p.map());
        number(o, "mp@1", p.mpAt1());
        number(o, "mp@5", p.mpAt5());
        number(o, "mp@10", p.mpAt10());
        o.put("queries", p.numEvaluated());
        if (perQuery) o.set("aps", aps(mapper, p.aps()));
        return o;
    }

    /** Easy, Medium and Hard metrics as one JSON object. */
    public static ObjectNode revisitedJson(ObjectMapper mapper, RevisitedResult r, boolean perQuery) {
        ObjectNode o = mapper.createObjectNode();
        for (Protocol p : Protocol.values()) o.set(p.key(), protocolJson(mapper, r.get(p), perQuery));
        return o;
    }

    /** GLDv2 metrics as one JSON object. */
    public static ObjectNode gldv2Json(ObjectMapper mapper, Gldv2Result r, boolean perQuery) {
        ObjectNode o = mapper.createObjectNode();
        number(o, "public_map", r.publicMap());
        number(o, "private_map", r.privateMap());
        number(o, "map", r.map());
        o.put("queries", r.numEvaluated());
        if (perQuery) o.set("aps", aps(mapper, r.aps()));
        return o;
    }

    private static ArrayNode aps(ObjectMapper mapper, double[] aps) {
        ArrayNode a = mapper.createArrayNode();
        for (double ap : aps) {
            if (Double.isNaN(ap)) a.addNull();
            else a.add(ap);
        }
        return a;
    }

    private static void number(ObjectNode o, String key, double v) {
        if (Double.isNaN(v)) o.putNull(key);
        else o.put(key, v);
    }

    /**
     * Reads rankings: a shortlist file (pickle or {@code torch.save}; its id row) or a text file with one line of
     * whitespace-separated gallery ids per query.
     */
    public static int[][] readRankings(Path file) throws IOException {
        byte[] head = new byte[2];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 2);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file");
        }
        boolean pickle = n >= 1 && (head[0] & 0xff) == 0x80;
        boolean zip = n == 2 && head[0] == 'P' && head[1] == 'K';
        if (pickle || zip) {
            Shortlist s = ShortlistFile.read(file);
            int[][] r = new int[s.numQueries()][];
            for (int q = 0; q < r.length; q++) r[q] = s.ids(q);
            return r;
        }
        List<int[]> rows = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() && i == lines.size() - 1) break;
            String[] tok = line.isEmpty() ? new String[0] : line.split("\\s+");
            int[] row = new int[tok.length];
            for (int j = 0; j < tok.length; j++) {
                try {
                    row[j] = Integer.parseInt(tok[j]);
                } catch (NumberFormatException e) {
                    throw new FormatException(file, "line " + (i + 1) + ": '" + tok[j] + "' is not a gallery id");
                }
                if (row[j] < 0) {
                    throw new FormatException(file, "line " + (i + 1) + ": negative gallery id " + row[j]);
                }
            }
            rows.add(row);
        }
        return rows.toArray(new int[0][]);
    }
}
