package org.locore.apps.inspect;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.Protocol;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.locore.model.io.TorchCheckpoint;
import org.locore.model.io.TorchUnpickler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/** Describes pickles and {@code torch.save} files: shortlists, ground truth, or checkpoints (state dicts). */
final class PickleDescription {
    /** Plain pickles larger than this are not loaded just to be described. */
    private static final long MAX_PICKLE = 1L << 30;

    private PickleDescription() {
    }

    static void describe(Path file, FileInspector.Kind kind, ObjectNode d, int head) throws IOException {
        Object root;
        String container;
        if (kind == FileInspector.Kind.ZIP) {
            root = TorchCheckpoint.open(file).root();
            container = "torch.save (zip)";
        } else {
            if (Files.size(file) > MAX_PICKLE) {
                throw new FormatException(file, "pickle of " + Files.size(file) + " bytes is too large to inspect");
            }
            root = TorchUnpickler.load(file, Files.readAllBytes(file));
            container = "pickle";
            if (root instanceof Number) {
                // a legacy torch.save file starts with a pickled magic number
                root = TorchCheckpoint.open(file).root();
                container = "torch.save (legacy)";
            }
        }
        if (root instanceof Map<?, ?> m && m.containsKey("imlist") && m.containsKey("qimlist") && m.containsKey("gnd")) {
            describeGroundTruth(file, d, container);
        } else if (root instanceof Tensor t && t.rank() == 3 && t.shape()[0] == 2) {
            describeShortlist(file, d, head);
        } else if (root instanceof Map<?, ?> || root instanceof Tensor) {
            describeCheckpoint(file, root, d, container);
        } else {
            d.put("format", container);
            d.put("holds", TorchUnpickler.typeName(root));
        }
    }

    private static void describeGroundTruth(Path file, ObjectNode d, String container) throws IOException {
        GroundTruth g = GroundTruth.read(file);
        d.put("format", "ground truth (" + container + ")");
        d.put("queries", g.numQueries());
        d.put("gallery_images", g.numImages());
        if (g.isGldv2Style()) {
            d.put("style", "gldv2 (ok)");
            d.put("positives", g.queries().stream().mapToLong(q -> q.ok().length).sum());
            d.put("queries_with_positives", g.queries().stream().filter(q -> q.ok().length > 0).count());
            return;
        }
        d.put("style", "revisited (easy/hard/junk)");
        ArrayNode t = d.putArray("protocols");
        for (Protocol p : Protocol.values()) {
            ObjectNode r = t.addObject();
            long with = g.queries().stream().filter(q -> p.positives(q).length > 0).count();
            long total = g.queries().stream().mapToLong(q -> p.positives(q).length).sum();
            long ignored = g.queries().stream().mapToLong(q -> p.ignored(q).length).sum();
            r.put("protocol", p.key());
            r.put("queries_with_positives", with);
            r.put("positives", total);
            r.put("positives_per_query", Math.round(10.0 * total / Math.max(1, g.numQueries())) / 10.0);
            r.put("ignored", ignored);
        }
    }

    private static void describeShortlist(Path file, ObjectNode d, int head) throws IOException {
        ShortlistFile.Format f = ShortlistFile.detect(file);
        Shortlist s = ShortlistFile.read(file);
        d.put("format", "shortlist (" + f.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + ")");
        d.put("queries", s.numQueries());
        d.put("length", s.length());
        d.put("shape", "[2, " + s.numQueries() + ", " + s.length() + "]");
        d.put("max_gallery_id", s.maxId());
        ArrayNode first = d.putArray("first");
        int cols = Math.min(head, s.length());
        for (int q = 0; q < Math.min(head, s.numQueries()); q++) {
            ObjectNode r = first.addObject();
            r.put("query", q);
            r.put("ids", Arrays.toString(Arrays.copyOf(s.ids(q), cols)));
            double[] sims = Arrays.copyOf(s.similarities(q), cols);
            StringBuilder b = new StringBuilder("[");
            for (int j = 0; j < sims.length; j++) b.append(j > 0 ? ", " : "").append(String.format("%.4f", sims[j]));
            r.put("similarities", b.append(']').toString());
        }
    }

    private static void describeCheckpoint(Path file, Object root, ObjectNode d, String container) throws IOException {
        d.put("format", "pytorch checkpoint (" + container + ")");
        Map<String, Tensor> sd;
        if (root instanceof Tensor t) {
            sd = Map.of("(root)", t);
        } else {
            sd = TorchCheckpoint.open(file).stateDict();
        }
        ArrayNode t = d.putArray("tensors");
        long params = 0;
        for (Map.Entry<String, Tensor> e : sd.entrySet()) {
            ObjectNode r = t.addObject();
            r.put("name", e.getKey());
            r.put("dtype", e.getValue().dtype().name());
            r.put("shape", Arrays.toString(e.getValue().shape()));
            params += e.getValue().numel();
        }
        d.put("tensor_count", sd.size());
        d.put("parameters", params);
    }
}
