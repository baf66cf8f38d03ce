package org.locore.data.groundtruth;

import java.util.Arrays;
import java.util.stream.IntStream;

/** The Revisited Oxford/Paris evaluation protocols: which gallery images are positive and which are ignored. */
public enum Protocol {
    /** Positives: easy. Ignored: junk and hard. */
    EASY,
    /** Positives: easy and hard. Ignored: junk. */
    MEDIUM,
    /** Positives: hard. Ignored: junk and easy. */
    HARD;

    /** The positives of a query under this protocol (sorted, distinct). */
    public int[] positives(GroundTruth.Query q) {
        return switch (this) {
            case EASY -> sorted(q.easy());
            case MEDIUM -> union(q.easy(), q.hard());
            case HARD -> sorted(q.hard());
        };
    }

    /** The images ignored for a query under this protocol (sorted, distinct). */
    public int[] ignored(GroundTruth.Query q) {
        return switch (this) {
            case EASY -> union(q.junk(), q.hard());
            case MEDIUM -> sorted(q.junk());
            case HARD -> union(q.junk(), q.easy());
        };
    }

    /** Lower-case name as used in JSON output ("easy", "medium", "hard"). */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    private static int[] sorted(int[] a) {
        return IntStream.of(a).distinct().sorted().toArray();
    }

    private static int[] union(int[] a, int[] b) {
        return IntStream.concat(Arrays.stream(a), Arrays.stream(b)).distinct().sorted().toArray();
    }
}
