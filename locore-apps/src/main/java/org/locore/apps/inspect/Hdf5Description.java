package org.locore.apps.inspect;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.Node;
import io.jhdf.object.datatype.CompoundDataType;
import io.jhdf.object.datatype.DataType;
import io.jhdf.object.datatype.FloatingPoint;
import io.jhdf.object.datatype.FixedPoint;
import org.locore.data.features.LocalFeatures;
import org.locore.model.io.FormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/** Describes an HDF5 file: every dataset, and for a LOCORE {@code features} dataset its layout and images. */
final class Hdf5Description {
    private Hdf5Description() {
    }

    static void describe(Path file, ObjectNode d) throws IOException {
        d.put("format", "hdf5");
        ArrayNode datasets = d.putArray("datasets");
        boolean hasFeatures;
        try (HdfFile hdf = new HdfFile(file)) {
            hasFeatures = walk(hdf, datasets);
        } catch (RuntimeException e) {
            // jhdf cannot list files whose root holds a virtual dataset: the features reader parses those itself
            datasets.removeAll();
            d.put("note", "jhdf cannot list this file (" + e.getMessage() + "); trying it as LOCORE local features");
            hasFeatures = true;
        }
        if (!hasFeatures) {
            return;
        }
        try (LocalFeatures lf = LocalFeatures.open(file)) {
            ObjectNode f = d.putObject("local_features");
            f.put("dataset", "/" + LocalFeatures.DATASET);
            f.put("images", lf.numImages());
            f.put("rows_per_image", lf.rowsPerImage());
            f.put("descriptor_dim", lf.descriptorDim());
            f.put("shape", Arrays.toString(lf.shape()));
            f.put("layout", lf.layout());
            f.put("stored_type", lf.storedType());
            f.put("compression", lf.compression());
            if (!lf.partFiles().isEmpty()) {
                ArrayNode parts = f.putArray("part_files");
                lf.partFiles().forEach(p -> parts.add(p.toString()));
            }
            if (datasets.isEmpty()) {
                ObjectNode r = datasets.addObject();
                r.put("path", "/" + LocalFeatures.DATASET);
                r.put("shape", Arrays.toString(lf.shape()));
                r.put("dtype", lf.storedType());
                r.put("layout", lf.layout());
            }
            // jhdf misreports array members of compound types: show the decoded type instead
            for (var r : datasets) {
                if (("/" + LocalFeatures.DATASET).equals(r.path("path").asText())) {
                    ((ObjectNode) r).put("dtype", lf.storedType());
                }
            }
            d.remove("note");
        }
    }

    private static boolean walk(Group g, ArrayNode out) {
        boolean features = false;
        for (Node n : g.getChildren().values()) {
            if (n.isGroup()) {
                features |= walk((Group) n, out);
                continue;
            }
            if (!(n instanceof Dataset ds)) continue;
            ObjectNode r = out.addObject();
            r.put("path", n.getPath());
            if (n.getName().equals("features")) features = true;
            try {
                r.put("shape", Arrays.toString(ds.getDimensionsAsLong()));
                r.put("dtype", typeName(ds.getDataType()));
                String layout = ds.getDataLayout().name().toLowerCase(java.util.Locale.ROOT);
                if (ds.isCompound()) layout += ", compound";
                r.put("layout", layout);
                if (!ds.getFilters().isEmpty()) {
                    r.put("filters", ds.getFilters().stream().map(f -> f.getName()).reduce((a, b) -> a + "+" + b).orElse(""));
                }
            } catch (RuntimeException e) {
                // jhdf cannot open virtual datasets: the features reader describes those
                r.put("layout", "virtual (or unsupported by jhdf)");
            }
        }
        return features;
    }

    static String typeName(DataType t) {
        if (t instanceof FloatingPoint f) return "float" + f.getSize() * 8;
        if (t instanceof FixedPoint x) return (x.isSigned() ? "int" : "uint") + x.getSize() * 8;
        if (t instanceof io.jhdf.object.datatype.ArrayDataType a) {
            return typeName(a.getBaseType()) + Arrays.toString(a.getArrayTypeDimensions());
        }
        if (t instanceof CompoundDataType c) {
            StringBuilder b = new StringBuilder("compound{");
            for (int i = 0; i < c.getMembers().size(); i++) {
                var m = c.getMembers().get(i);
                if (i > 0) b.append(", ");
                b.append(m.getName()).append(": ").append(typeName(m.getDataType()));
            }
            return b.append('}').toString();
        }
        return t.getClass().getSimpleName();
    }
}
