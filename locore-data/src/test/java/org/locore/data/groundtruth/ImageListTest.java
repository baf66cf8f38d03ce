package org.locore.data.groundtruth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.model.io.FormatException;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageListTest {
    @TempDir
    Path tmp;

    @Test
    void readsTheRevisitedListsLineForLine() throws IOException {
        for (String ds : List.of("roxford5k", "rparis6k")) {
            Path q = Fixtures.path("revisitop/" + ds + "/test_query.txt");
            Path g = Fixtures.path("revisitop/" + ds + "/test_gallery.txt");
            ImageList ql = ImageList.read(q);
            ImageList gl = ImageList.read(g);
            assertEquals(70, ql.size());
            assertEquals(ds.equals("roxford5k") ? 4993 : 6322, gl.size());
            // every non-blank line becomes one entry with the same four fields
            List<String> lines = Files.readAllLines(g).stream().filter(s -> !s.isBlank()).toList();
            assertEquals(lines.size(), gl.size());
            for (int i = 0; i < lines.size(); i += 997) {
                ImageList.Entry e = gl.get(i);
                assertEquals(lines.get(i), e.path() + "," + e.label() + "," + e.width() + "," + e.height());
                assertTrue(e.width() > 0 && e.height() > 0);
            }
        }
    }

    @Test
    void blankTrailingLinesAreToleratedAndRoundTrip() throws IOException {
        Path f = tmp.resolve("list.txt");
        Files.writeString(f, "a/b.jpg,12,640,480\nc,d.jpg,3,10,20\r\n\n\n");
        ImageList l = ImageList.read(f);
        assertEquals(2, l.size());
        assertEquals("c,d.jpg", l.get(1).path());
        assertEquals("3", l.get(1).label());
        assertEquals(2, l.numLabels());
        Path out = tmp.resolve("out.txt");
        l.write(out);
        assertEquals("a/b.jpg,12,640,480\nc,d.jpg,3,10,20\n", Files.readString(out));
    }

    @Test
    void malformedLinesAreReportedWithFileAndLine() throws IOException {
        Path f = tmp.resolve("bad.txt");
        Files.writeString(f, "a.jpg,1,640,480\nb.jpg,1,six,480\n");
        FormatException e = assertThrows(FormatException.class, () -> ImageList.read(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("line 2") && e.getMessage().contains("width"), e.getMessage());
        Files.writeString(f, "a.jpg 1 640 480\n");
        e = assertThrows(FormatException.class, () -> ImageList.read(f));
        assertTrue(e.getMessage().contains("line 1") && e.getMessage().contains("relative_path,label,width,height"), e.getMessage());
        Files.writeString(f, "a.jpg,1,640,480\n\nb.jpg,1,640,480\n");
        e = assertThrows(FormatException.class, () -> ImageList.read(f));
        assertTrue(e.getMessage().contains("blank"), e.getMessage());
        Files.write(f, new byte[]{(byte) 0xff, (byte) 0xfe, 0, 1, 2});
        e = assertThrows(FormatException.class, () -> ImageList.read(f));
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
        e = assertThrows(FormatException.class, () -> ImageList.read(tmp.resolve("none.txt")));
        assertTrue(e.getMessage().contains("no such file"));
    }
}
