package org.locore.data.groundtruth;

import org.locore.model.io.AtomicFiles;
import org.locore.model.io.FormatException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * An image list: one {@code relative_path,label,width,height} line per image, in dataset order (the label is
 * the landmark id for GLDv2-train; width and height are the full image size). Blank lines at the end are
 * tolerated; anything else that does not parse is reported with its file and line number.
 */
public final class ImageList {

    /** One image of a list. */
    public record Entry(String path, String label, int width, int height) {
        public Entry {
            Objects.requireNonNull(path);
            Objects.requireNonNull(label);
        }
    }

    private final List<Entry> entries;

    public ImageList(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** Reads a list file. */
    public static ImageList read(Path file) throws IOException {
        List<Entry> out = new ArrayList<>();
        int lineNo = 0;
        int blankAt = -1;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    if (blankAt < 0) blankAt = lineNo;
                    continue;
                }
                if (blankAt > 0) {
                    throw new FormatException(file, "line " + blankAt + " is blank but more images follow at line " + lineNo);
                }
                out.add(parse(file, lineNo, line));
            }
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "no such file");
        } catch (CharacterCodingException | UncheckedIOException e) {
            throw new FormatException(file, "not a UTF-8 text file (line " + (lineNo + 1) + ")");
        }
        return new ImageList(out);
    }

    private static Entry parse(Path file, int lineNo, String line) throws FormatException {
        String l = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        // the path may itself contain commas: the last three fields are label, width, height
        int c3 = l.lastIndexOf(',');
        int c2 = c3 > 0 ? l.lastIndexOf(',', c3 - 1) : -1;
        int c1 = c2 > 0 ? l.lastIndexOf(',', c2 - 1) : -1;
        if (c1 <= 0) {
            throw new FormatException(file, "line " + lineNo + ": expected 'relative_path,label,width,height', got '"
                    + abbreviate(l) + "'");
        }
        String path = l.substring(0, c1);
        String label = l.substring(c1 + 1, c2);
        int w = dimension(file, lineNo, "width", l.substring(c2 + 1, c3));
        int h = dimension(file, lineNo, "height", l.substring(c3 + 1));
        return new Entry(path, label, w, h);
    }

    private static int dimension(Path file, int lineNo, String what, String s) throws FormatException {
        try {
            int v = Integer.parseInt(s.trim());
            if (v < 0) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new FormatException(file, "line " + lineNo + ": " + what + " '" + abbreviate(s) + "' is not a non-negative integer");
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    /** Writes the list (one line per image, newline-terminated), atomically. */
    public void write(Path file) throws IOException {
        AtomicFiles.write(file, out -> {
            StringBuilder sb = new StringBuilder();
            for (Entry e : entries) {
                sb.append(e.path()).append(',').append(e.label()).append(',').append(e.width()).append(',')
                        .append(e.height()).append('\n');
            }
            out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
        });
    }

    public List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    public int size() {
        return entries.size();
    }

    public Entry get(int i) {
        return entries.get(i);
    }

    /** Number of distinct labels. */
    public int numLabels() {
        return (int) entries.stream().map(Entry::label).distinct().count();
    }
}
