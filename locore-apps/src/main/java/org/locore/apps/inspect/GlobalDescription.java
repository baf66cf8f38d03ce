package org.locore.apps.inspect;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.locore.data.features.GlobalDescriptors;

import java.io.IOException;
import java.nio.file.Path;

/** Describes the leading rows of a headerless global descriptor file (their L2 norms and first values). */
final class GlobalDescription {
    private GlobalDescription() {
    }

    static void describeRows(Path file, int dim, ObjectNode d, int head) throws IOException {
        try (GlobalDescriptors g = GlobalDescriptors.open(file, dim)) {
            ArrayNode rows = d.putArray("first");
            for (int i = 0; i < Math.min(head, g.size()); i++) {
                float[] v = g.get(i);
                double norm = 0;
                for (float x : v) norm += (double) x * x;
                ObjectNode r = rows.addObject();
                r.put("row", i);
                r.put("l2_norm", Math.round(Math.sqrt(norm) * 1e6) / 1e6);
                StringBuilder b = new StringBuilder("[");
                for (int j = 0; j < Math.min(4, v.length); j++) b.append(j > 0 ? ", " : "").append(v[j]);
                r.put("values", b.append(v.length > 4 ? ", ...]" : "]").toString());
            }
        }
    }
}
