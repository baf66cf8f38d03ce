package org.locore.data.groundtruth;

import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.locore.model.io.TorchUnpickler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A benchmark's ground truth as stored in {@code gnd_<dataset>.pkl}: the gallery image list ({@code imlist}),
 * the query list ({@code qimlist}) and, per query, its bounding box and the gallery indices labelled easy,
 * hard and junk (Revisited Oxford/Paris), or {@code ok} (GLDv2 test).
 *
 * @param imlist  gallery image names, in gallery index order
 * @param qimlist query image names, in query order
 * @param queries one entry per query, in query order
 */
public record GroundTruth(List<String> imlist, List<String> qimlist, List<Query> queries) {

    /**
     * One query's annotations. Index arrays hold 0-based gallery indices. Arrays that a file does not hold are
     * empty ({@code ok} for Revisited files; {@code easy/hard/junk} for GLDv2); {@code bbx} is null when absent.
     *
     * @param bbx  query box {@code [x1, y1, x2, y2]} in full-image pixels, or null
     * @param easy easy positives
     * @param hard hard positives
     * @param junk junk images
     * @param ok   positives of a GLDv2-style file
     */
    public record Query(double[] bbx, int[] easy, int[] hard, int[] junk, int[] ok) {
    }

    /** Files larger than this are refused before they are read (the real ones are well under 1 MB). */
    private static final long MAX_FILE_BYTES = 1L << 30;

    /**
     * Reads a {@code gnd_<dataset>.pkl} file: a pickled dict with {@code imlist}, {@code qimlist} (lists of
     * str) and {@code gnd}, one dict per query holding {@code bbx}, {@code easy}, {@code hard} and {@code junk}
     * (Revisited Oxford/Paris) or {@code ok} (GLDv2); index lists may be Python lists or NumPy arrays.
     * The style is taken from the first query and every query must hold its keys.
     *
     * @throws FormatException naming the file and the problem: a missing key, a {@code gnd} whose length differs
     *                         from {@code qimlist}, a box that is not four numbers, an index that is not an integer
     *                         or lies outside {@code [0, len(imlist))}
     */
    public static GroundTruth read(Path file) throws IOException {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file");
        }
        if (size > MAX_FILE_BYTES) {
            throw new FormatException(file, "ground-truth file of " + size + " bytes is implausibly large");
        }
        Object root = TorchUnpickler.load(file, Files.readAllBytes(file));
        if (!(root instanceof Map<?, ?> top)) {
            throw new FormatException(file, "ground truth must be a pickled dict, found " + describe(root));
        }
        List<String> imlist = strings(file, top, "imlist");
        List<String> qimlist = strings(file, top, "qimlist");
        Object gnd = require(file, top, "gnd", "");
        if (!(gnd instanceof List<?> gndList)) {
            throw new FormatException(file, "'gnd' must be a list, found " + describe(gnd));
        }
        if (gndList.size() != qimlist.size()) {
            throw new FormatException(file, "'gnd' has " + gndList.size() + " entries but 'qimlist' has "
                    + qimlist.size() + " queries");
        }
        boolean gldv2 = !gndList.isEmpty() && gndList.get(0) instanceof Map<?, ?> first && first.containsKey("ok")
                && !first.containsKey("easy");
        int n = imlist.size();
        List<Query> queries = new ArrayList<>(gndList.size());
        for (int q = 0; q < gndList.size(); q++) {
            if (!(gndList.get(q) instanceof Map<?, ?> m)) {
                throw new FormatException(file, "gnd[" + q + "] must be a dict, found " + describe(gndList.get(q)));
            }
            String where = "gnd[" + q + "]";
            if (gldv2) {
                int[] ok = indices(file, m, "ok", where, n);
                double[] bbx = m.containsKey("bbx") ? box(file, m.get("bbx"), where) : null;
                queries.add(new Query(bbx, new int[0], new int[0], new int[0], ok));
            } else {
                double[] bbx = box(file, require(file, m, "bbx", where), where);
                int[] easy = indices(file, m, "easy", where, n);
                int[] hard = indices(file, m, "hard", where, n);
                int[] junk = indices(file, m, "junk", where, n);
                queries.add(new Query(bbx, easy, hard, junk, new int[0]));
            }
        }
        return new GroundTruth(Collections.unmodifiableList(imlist), Collections.unmodifiableList(qimlist),
                Collections.unmodifiableList(queries));
    }

    private static Object require(Path file, Map<?, ?> m, String key, String where) throws FormatException {
        if (!m.containsKey(key)) {
            throw new FormatException(file, "missing key '" + key + "'" + (where.isEmpty() ? "" : " in " + where));
        }
        return m.get(key);
    }

    private static List<String> strings(Path file, Map<?, ?> m, String key) throws FormatException {
        Object v = require(file, m, key, "");
        if (!(v instanceof List<?> l)) {
            throw new FormatException(file, "'" + key + "' must be a list of str, found " + describe(v));
        }
        List<String> out = new ArrayList<>(l.size());
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof String s)) {
                throw new FormatException(file, key + "[" + i + "] must be a str, found " + describe(l.get(i)));
            }
            out.add(s);
        }
        return out;
    }

    private static double[] box(Path file, Object v, String where) throws FormatException {
        double[] b = numbers(file, v, where + "['bbx']");
        if (b.length != 4) {
            throw new FormatException(file, where + "['bbx'] must hold 4 numbers [x1, y1, x2, y2], found " + b.length);
        }
        return b;
    }

    private static int[] indices(Path file, Map<?, ?> m, String key, String where, int numImages)
            throws FormatException {
        String what = where + "['" + key + "']";
        double[] v = numbers(file, require(file, m, key, where), what);
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            if (x != Math.rint(x)) {
                throw new FormatException(file, what + "[" + i + "] = " + x + " is not an integer image index");
            }
            if (x < 0 || x >= numImages) {
                throw new FormatException(file, what + "[" + i + "] = " + (long) x + " is outside [0, " + numImages
                        + ") (the number of images in 'imlist')");
            }
            out[i] = (int) x;
        }
        return out;
    }

    /** A list of numbers or a 0/1-dimensional NumPy array, as doubles (exact for indices below 2^53). */
    private static double[] numbers(Path file, Object v, String what) throws FormatException {
        if (v instanceof Tensor t) {
            if (t.rank() > 1) {
                throw new FormatException(file, what + " must be one-dimensional, found shape "
                        + java.util.Arrays.toString(t.shape()));
            }
            if (t.dtype().isFloating()) {
                return t.toDoubleArray();
            }
            long[] l = t.toLongArray();
            double[] out = new double[l.length];
            for (int i = 0; i < l.length; i++) out[i] = l[i];
            return out;
        }
        if (v instanceof List<?> l) {
            double[] out = new double[l.size()];
            for (int i = 0; i < out.length; i++) {
                Object x = l.get(i);
                if (x instanceof Long || x instanceof Double || x instanceof Integer) {
                    out[i] = ((Number) x).doubleValue();
                } else {
                    throw new FormatException(file, what + "[" + i + "] must be a number, found " + describe(x));
                }
            }
            return out;
        }
        throw new FormatException(file, what + " must be a list or array of numbers, found " + describe(v));
    }

    private static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Map) return "a dict";
        if (o instanceof List) return "a list";
        if (o instanceof String) return "a str";
        if (o instanceof Tensor t) return "an array " + t.dtype() + java.util.Arrays.toString(t.shape());
        if (o instanceof Number) return "a number";
        return "a " + o.getClass().getSimpleName();
    }

    /**
     * Writes this ground truth as {@code gnd_<dataset>.pkl} (pickle protocol 2, written to a temporary file and
     * renamed into place): a dict with {@code imlist}, {@code qimlist} and {@code gnd}, whose entries are
     * {@code {bbx, easy, hard, junk}} (Revisited style) or, for a {@link #isGldv2Style() GLDv2-style} ground truth,
     * {@code {ok}} plus {@code bbx} when present. Boxes and index arrays are Python lists (no NumPy objects), so
     * {@code pickle.load} reads the file without NumPy installed, and {@link #read} reads it back unchanged.
     *
     * @throws IllegalArgumentException when a Revisited-style query has no box
     */
    public void write(Path file) throws IOException {
        boolean gldv2 = isGldv2Style();
        List<Object> gnd = new ArrayList<>(queries.size());
        for (int q = 0; q < queries.size(); q++) {
            Query query = queries.get(q);
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            if (query.bbx() != null) {
                m.put("bbx", query.bbx());
            } else if (!gldv2) {
                throw new IllegalArgumentException("query " + q + " has no box; Revisited ground truth needs one");
            }
            if (gldv2) {
                m.put("ok", query.ok());
            } else {
                m.put("easy", query.easy());
                m.put("hard", query.hard());
                m.put("junk", query.junk());
            }
            gnd.add(m);
        }
        Map<String, Object> root = new java.util.LinkedHashMap<>();
        root.put("imlist", imlist);
        root.put("qimlist", qimlist);
        root.put("gnd", gnd);
        byte[] bytes = PickleWriter.pickle(root);
        org.locore.model.io.AtomicFiles.write(file, out -> out.write(bytes));
    }

    public int numQueries() {
        return qimlist.size();
    }

    public int numImages() {
        return imlist.size();
    }

    /** True when the file uses {@code ok} lists (GLDv2) rather than easy/hard/junk. */
    public boolean isGldv2Style() {
        return !queries.isEmpty() && queries.get(0).ok().length > 0 && queries.get(0).easy().length == 0
                && queries.get(0).hard().length == 0;
    }
}
