package org.locore.data.features;

import java.io.IOException;
import java.util.List;

/**
 * Features of a virtual dataset: each range of images comes from a part file, read through that part's own
 * {@link LocalFeatures}. Thread-safe because the parts are.
 */
final class VirtualSource implements FeatureSource {
    /** Images {@code [start, start + count)} are images {@code [sourceStart, ...)} of {@code part}. */
    record Range(long start, long count, LocalFeatures part, long sourceStart) {
    }

    private final Range[] ranges;
    private final List<LocalFeatures> parts;

    /**
     * @param ranges sorted by start, not overlapping
     * @param parts  the distinct part readers (closed with this source)
     */
    VirtualSource(Range[] ranges, List<LocalFeatures> parts) {
        this.ranges = ranges.clone();
        this.parts = List.copyOf(parts);
    }

    @Override
    public void readRows(int image, int n, float[] dst, int off) throws IOException {
        int lo = 0;
        int hi = ranges.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Range r = ranges[mid];
            if (image < r.start()) {
                hi = mid - 1;
            } else if (image >= r.start() + r.count()) {
                lo = mid + 1;
            } else {
                r.part().readRowsInto((int) (r.sourceStart() + image - r.start()), n, dst, off);
                return;
            }
        }
        throw new IllegalStateException("image " + image + " is not mapped (checked when opening)");
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (LocalFeatures p : parts) {
            try {
                p.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
