package org.locore.data.groundtruth;

import java.util.List;

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
