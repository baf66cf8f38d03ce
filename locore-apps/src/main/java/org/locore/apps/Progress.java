package org.locore.apps;

import org.slf4j.Logger;

import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress of long work, logged at most every few seconds: count done of total, rate, elapsed time and ETA
 * ({@code extract: 1,200/4,993 images (24.0%) 3.1 images/s, elapsed 6m27s, ETA 20m23s}). Thread-safe.
 */
public final class Progress {
    private final Logger log;
    private final String what;
    private final String unit;
    private final long total;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final long start;
    private long done;
    private long lastLog;
    private String extra = "";

    /**
     * @param log   where to report
     * @param what  the stage ("extract", "train", ...)
     * @param unit  what is counted ("images", "steps", ...)
     * @param total how many there are (0 or less when unknown)
     */
    public Progress(Logger log, String what, String unit, long total) {
        this(log, what, unit, total, 5.0, System::nanoTime);
    }

    Progress(Logger log, String what, String unit, long total, double intervalSeconds, LongSupplier clock) {
        this.log = log;
        this.what = what;
        this.unit = unit;
        this.total = total;
        this.intervalNanos = (long) (intervalSeconds * 1e9);
        this.clock = clock;
        this.start = clock.getAsLong();
        this.lastLog = start;
    }

    /** Adds {@code n} finished items and logs when the interval has passed. */
    public synchronized void advance(long n) {
        done += n;
        long now = clock.getAsLong();
        if (now - lastLog >= intervalNanos) {
            lastLog = now;
            log.info(line(now));
        }
    }

    /** Sets text appended to each line (a loss, a metric). */
    public synchronized void setExtra(String extra) {
        this.extra = extra == null ? "" : extra;
    }

    /** Logs the final line. */
    public synchronized void finish() {
        log.info(line(clock.getAsLong()));
    }

    /** Items done so far. */
    public synchronized long done() {
        return done;
    }

    /** Seconds since the start. */
    public double elapsedSeconds() {
        return (clock.getAsLong() - start) / 1e9;
    }

    synchronized String line(long now) {
        double secs = Math.max(1e-9, (now - start) / 1e9);
        double rate = done / secs;
        StringBuilder b = new StringBuilder(what).append(": ");
        b.append(String.format(Locale.ROOT, "%,d", done));
        if (total > 0) {
            b.append(String.format(Locale.ROOT, "/%,d %s (%.1f%%)", total, unit, 100.0 * done / total));
        } else {
            b.append(' ').append(unit);
        }
        b.append(String.format(Locale.ROOT, " %.2f %s/s, elapsed %s", rate, unit, duration(secs)));
        if (total > 0 && done < total && rate > 0) {
            b.append(", ETA ").append(duration((total - done) / rate));
        }
        if (!extra.isEmpty()) b.append(", ").append(extra);
        return b.toString();
    }

    /** {@code 1h02m03s}, {@code 4m05s} or {@code 6.0s}. */
    static String duration(double seconds) {
        if (seconds < 60) return String.format(Locale.ROOT, "%.1fs", seconds);
        long s = Math.round(seconds);
        if (s < 3600) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, (s % 3600) / 60, s % 60);
    }
}
