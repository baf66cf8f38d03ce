package org.locore.apps.extract;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.model.io.FormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ExtractionJob} with a stand-in extractor whose values identify the image: rows land at their list
 * index across part boundaries (7 images in parts of 3), a crash in the middle of a part loses only that part
 * (the next run extracts only what is missing, leaves no temporary files and gives the same files as an
 * uninterrupted run), failed images stay aligned, and parts of other options are refused.
 */
class ExtractionJobTest {
    static final int K = 3;
    static final int D = 4;

    @TempDir
    Path tmp;

    /** Image i: rows [i, r, 0, 0, 10 i + r, i + r/10 ...], global all i, cls all -i; "bad" names fail. */
    static ExtractionJob.ImageExtractor fake(AtomicInteger calls, int crashAt) {
        return (file, bbx) -> {
            int i = Integer.parseInt(file.getFileName().toString().replaceAll("\\D", ""));
            if (calls.incrementAndGet() == crashAt) {
                throw new IllegalStateException("simulated crash");
            }
            if (file.getFileName().toString().startsWith("bad")) {
                throw new FormatException(file, "cannot decode");
            }
            float[] rows = new float[K * (5 + D)];
            for (int r = 0; r < K; r++) {
                int o = r * (5 + D);
                rows[o] = i;
                rows[o + 1] = r;
                rows[o + 4] = 10 * i + r;
                for (int d = 0; d < D; d++) rows[o + 5 + d] = i + r / 10f + d / 100f;
            }
            float[] g = new float[D];
            float[] c = new float[D];
            java.util.Arrays.fill(g, i);
            java.util.Arrays.fill(c, -i);
            return new Extractor.Result(rows, g, c, 14, 14);
        };
    }

    static List<ExtractionJob.Item> items(Path dir) {
        List<ExtractionJob.Item> items = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            String name = (i == 4 ? "bad" : "img") + i + ".png";
            items.add(new ExtractionJob.Item(name, dir.resolve(name), null));
        }
        return items;
    }

    @Test
    void crashMidPartLosesOnlyThatPartAndResumesToIdenticalFiles() throws IOException {
        Path a = tmp.resolve("a");
        AtomicInteger calls = new AtomicInteger();
        ExtractionJob.Summary full = new ExtractionJob(items(a), ExtractionJob.Outputs.of(a, "x", ""), K, D, 3, "v=1")
                .run(fake(calls, -1), 0, false);
        assertEquals(new ExtractionJob.Summary(7, 7, 0, 1, true), full);
        assertEquals(7, calls.get());

        Path b = tmp.resolve("b");
        ExtractionJob.Outputs out = ExtractionJob.Outputs.of(b, "x", "");
        AtomicInteger first = new AtomicInteger();
        assertThrows(IllegalStateException.class,
                () -> new ExtractionJob(items(b), out, K, D, 3, "v=1").run(fake(first, 5), 0, false));
        assertTrue(Files.exists(out.parts().resolve("part-000000.done")));
        assertFalse(Files.exists(out.parts().resolve("part-000001.done")), "the part being written when it crashed");
        try (Stream<Path> s = Files.list(out.parts())) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary files left");
        }
        AtomicInteger second = new AtomicInteger();
        ExtractionJob.Summary resumed = new ExtractionJob(items(b), out, K, D, 3, "v=1").run(fake(second, -1), 0, false);
        assertEquals(4, second.get(), "only parts 1 and 2 (images 3..6) are extracted again");
        assertEquals(new ExtractionJob.Summary(7, 4, 3, 1, true), resumed);
        for (String f : new String[]{"x_local.hdf5", "x_global.pt", "x_cls_global.pt"}) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
        assertFalse(Files.exists(out.parts()));

        try (LocalFeatures lf = LocalFeatures.open(b.resolve("x_local.hdf5"));
             GlobalDescriptors g = GlobalDescriptors.open(b.resolve("x_global.pt"), D);
             GlobalDescriptors c = GlobalDescriptors.open(b.resolve("x_cls_global.pt"), D)) {
            assertEquals(7, lf.numImages());
            for (int i = 0; i < 7; i++) {
                float[] rows = lf.readRows(i, K);
                if (i == 4) {
                    assertEquals(0, lf.read(i).validRows());
                    assertArrayEquals(new float[D], g.get(i));
                    continue;
                }
                assertEquals(i, rows[0], "image " + i + " at its list index");
                assertEquals(10 * i + 2, rows[2 * (5 + D) + 4]);
                assertEquals(i, g.get(i)[0]);
                assertEquals(-i, c.get(i)[D - 1]);
            }
        }
        assertEquals(List.of("4\tbad4.png\t" + b.resolve("bad4.png") + ": cannot decode"),
                Files.readAllLines(b.resolve("x_failed.txt")));
    }

    @Test
    void partsOfOtherOptionsAreRefused() throws IOException {
        ExtractionJob.Outputs out = ExtractionJob.Outputs.of(tmp, "x", "_query");
        assertFalse(new ExtractionJob(items(tmp), out, K, D, 3, "v=1").run(fake(new AtomicInteger(), -1), 1, false)
                .complete());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ExtractionJob(items(tmp), out, K, D, 3, "v=2").run(fake(new AtomicInteger(), -1), 0, false));
        assertTrue(e.getMessage().contains("was 'v=1', now 'v=2'") && e.getMessage().contains(".x_query.parts"),
                e.getMessage());
    }
}
