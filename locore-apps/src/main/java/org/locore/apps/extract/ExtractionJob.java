package org.locore.apps.extract;

import org.locore.apps.Progress;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.data.features.LocalFeaturesWriter;
import org.locore.model.io.AtomicFiles;
import org.locore.model.io.FormatException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Extracts a list of images into the three feature files in bounded memory, resumably.
 *
 * <p>Design: the list is cut into parts of {@code partSize} consecutive images. Each part is written to
 * {@code <out>/.<name><split>.parts/}: {@code part-NNNNNN.local.hdf5} (streamed by {@link LocalFeaturesWriter}),
 * {@code part-NNNNNN.global.f32} and {@code .cls.f32} (headerless float32 rows), {@code part-NNNNNN.failed.txt},
 * every file written atomically, and last a {@code part-NNNNNN.done} marker. A run skips every part that has its
 * marker, so a crash costs at most the part in progress. When every part is done the parts are stitched by
 * streaming, one image at a time, into {@code <name><split>_local.hdf5} (one contiguous float32 {@code features}
 * dataset, readable by {@link LocalFeatures}, h5py and the HDF5 library), {@code <name><split>_global.pt},
 * {@code <name>_cls<split>_global.pt} and {@code <name><split>_failed.txt}; then the parts folder is removed.
 * A crash while stitching leaves the parts, and the next run stitches again. Memory: one image's activations
 * plus one part's global descriptors ({@code 2 * partSize * D} floats); disk: the parts and the final files
 * coexist while stitching (twice the final size at the peak).
 *
 * <p>The folder also holds {@code job.txt}, the options the parts were made with (list checksum, K, D, image
 * size, checkpoints, part size...): a run with different options refuses to mix its parts with those.
 *
 * <p>An image that cannot be read or decoded (or whose query box selects no pixels) is logged by name, listed in
 * the failed file ({@code index<TAB>path<TAB>reason}) and stored as K padding rows (mask 1) with zero global
 * descriptors, so that rows stay aligned with the list.
 */
public final class ExtractionJob {
    private static final Logger LOG = LoggerFactory.getLogger(ExtractionJob.class);
    private static final String JOB_FILE = "job.txt";

    /** What turns one image into its features ({@link Extractor#extract} in production). */
    @FunctionalInterface
    public interface ImageExtractor {
        /** @throws IOException when the image cannot be used (recorded as a failed image) */
        Extractor.Result extract(Path image, double[] bbx) throws IOException;
    }

    /**
     * One image of the list.
     *
     * @param name the name as listed (relative path), used in messages and the failed file
     * @param file the file to read
     * @param bbx  query box {@code [x1, y1, x2, y2]}, or null
     */
    public record Item(String name, Path file, double[] bbx) {
    }

    /** The files a job writes. */
    public record Outputs(Path local, Path global, Path clsGlobal, Path failed, Path parts) {
        /** AMES's names: {@code <name><split>_local.hdf5}, {@code <name><split>_global.pt}, {@code <name>_cls<split>_global.pt}. */
        public static Outputs of(Path outDir, String name, String split) {
            return new Outputs(outDir.resolve(name + split + "_local.hdf5"), outDir.resolve(name + split + "_global.pt"),
                    outDir.resolve(name + "_cls" + split + "_global.pt"), outDir.resolve(name + split + "_failed.txt"),
                    outDir.resolve("." + name + split + ".parts"));
        }
    }

    /**
     * What a run did.
     *
     * @param images    images in the list
     * @param extracted images run through the extractor by this run (failed ones included)
     * @param resumed   images of parts finished by an earlier run and not redone
     * @param failed    failed images among those extracted by this run
     * @param complete  whether the final files were written (false when stopped by the part limit)
     */
    public record Summary(int images, int extracted, int resumed, int failed, boolean complete) {
    }

    private final List<Item> items;
    private final Outputs out;
    private final int topK;
    private final int dim;
    private final int partSize;
    private final String options;

    /**
     * @param items    the images, in output order
     * @param outputs  where to write
     * @param topK     rows per image K
     * @param dim      descriptor dimension D
     * @param partSize images per part
     * @param options  a description of everything that determines the values (checked on resume)
     */
    public ExtractionJob(List<Item> items, Outputs outputs, int topK, int dim, int partSize, String options) {
        if (items.isEmpty()) {
            throw new IllegalArgumentException("the image list is empty");
        }
        if (partSize < 1) {
            throw new IllegalArgumentException("--part-size must be positive, got " + partSize);
        }
        this.items = List.copyOf(items);
        this.out = outputs;
        this.topK = topK;
        this.dim = dim;
        this.partSize = partSize;
        this.options = "images=" + items.size() + "\ntopk=" + topK + "\ndim=" + dim + "\npart_size=" + partSize + "\n"
                + options.strip() + "\n";
    }

    /** Number of parts. */
    public int numParts() {
        return (items.size() + partSize - 1) / partSize;
    }

    /**
     * Runs (or resumes) the job.
     *
     * @param extractor what extracts one image
     * @param maxNewParts stop after writing this many parts (0: no limit); the final files are written only when
     *                    every part is done
     * @param overwrite   extract again when the final files exist already (otherwise that is an error)
     */
    public Summary run(ImageExtractor extractor, int maxNewParts, boolean overwrite) throws IOException {
        prepareFolder(overwrite);
        int parts = numParts();
        int resumed = 0;
        int todo = 0;
        for (int p = 0; p < parts; p++) {
            if (Files.exists(done(p))) {
                resumed += partLength(p);
            } else {
                todo += partLength(p);
            }
        }
        if (resumed > 0) {
            LOG.info("resuming in {}: {} of {} images already extracted", out.parts(), resumed, items.size());
        }
        Progress progress = new Progress(LOG, "extract", "images", todo);
        int extracted = 0;
        int failed = 0;
        int written = 0;
        for (int p = 0; p < parts; p++) {
            if (Files.exists(done(p))) {
                continue;
            }
            if (maxNewParts > 0 && written == maxNewParts) {
                progress.finish();
                LOG.info("stopped after {} new parts as asked; run again to continue", written);
                return new Summary(items.size(), extracted, resumed, failed, false);
            }
            failed += writePart(p, extractor, progress);
            extracted += partLength(p);
            written++;
        }
        progress.finish();
        stitch();
        return new Summary(items.size(), extracted, resumed, failed, true);
    }

    private void prepareFolder(boolean overwrite) throws IOException {
        Path job = out.parts().resolve(JOB_FILE);
        if (Files.isDirectory(out.parts()) && Files.exists(job)) {
            String before = Files.readString(job, StandardCharsets.UTF_8);
            if (!before.equals(options)) {
                throw new IllegalArgumentException(out.parts() + " holds parts of an extraction with other options ("
                        + firstDifference(before, options) + "): rerun with the same options, or delete that folder");
            }
            return;
        }
        if (!overwrite && Files.exists(out.local())) {
            throw new IllegalArgumentException(out.local() + " exists already: pass --overwrite to extract again");
        }
        Files.createDirectories(out.parts());
        AtomicFiles.write(job, o -> o.write(options.getBytes(StandardCharsets.UTF_8)));
    }

    private static String firstDifference(String a, String b) {
        String[] x = a.split("\n");
        String[] y = b.split("\n");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            String u = i < x.length ? x[i] : "";
            String v = i < y.length ? y[i] : "";
            if (!u.equals(v)) {
                return "was '" + u + "', now '" + v + "'";
            }
        }
        return "same";
    }

    private int partStart(int p) {
        return p * partSize;
    }

    private int partLength(int p) {
        return Math.min(partSize, items.size() - partStart(p));
    }

    private Path partFile(int p, String suffix) {
        return out.parts().resolve(String.format(Locale.ROOT, "part-%06d.%s", p, suffix));
    }

    private Path done(int p) {
        return partFile(p, "done");
    }

    /** Writes one part; returns its number of failed images. */
    private int writePart(int p, ImageExtractor extractor, Progress progress) throws IOException {
        int start = partStart(p);
        int n = partLength(p);
        float[] globals = new float[n * dim];
        float[] cls = new float[n * dim];
        StringBuilder failedLines = new StringBuilder();
        int failed = 0;
        try (LocalFeaturesWriter w = LocalFeaturesWriter.create(partFile(p, "local.hdf5"), topK, dim,
                LocalFeaturesWriter.Storage.CONTIGUOUS)) {
            for (int i = 0; i < n; i++) {
                Item item = items.get(start + i);
                Extractor.Result r;
                try {
                    r = extractor.extract(item.file(), item.bbx());
                } catch (IOException e) {
                    String reason = reason(e);
                    LOG.warn("image {} ({}) failed: {}", start + i, item.name(), reason);
                    failedLines.append(start + i).append('\t').append(item.name()).append('\t').append(reason).append('\n');
                    failed++;
                    w.add(Extractor.paddingRows(topK, dim), 0);
                    progress.advance(1);
                    continue;
                }
                if (r.rows().length != topK * (5 + dim) || r.global().length != dim || r.clsGlobal().length != dim) {
                    throw new IllegalStateException(item.name() + ": extractor returned " + r.rows().length + " values and "
                            + r.global().length + "/" + r.clsGlobal().length + "-dimensional globals, expected K = "
                            + topK + ", D = " + dim);
                }
                w.add(r.rows(), 0);
                System.arraycopy(r.global(), 0, globals, i * dim, dim);
                System.arraycopy(r.clsGlobal(), 0, cls, i * dim, dim);
                progress.advance(1);
            }
            w.finish();
        }
        GlobalDescriptors.write(partFile(p, "global.f32"), globals, dim);
        GlobalDescriptors.write(partFile(p, "cls.f32"), cls, dim);
        byte[] failedBytes = failedLines.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(partFile(p, "failed.txt"), o -> o.write(failedBytes));
        AtomicFiles.write(done(p), o -> o.write((n + "\n").getBytes(StandardCharsets.UTF_8)));
        LOG.debug("part {} done: images {}..{}, {} failed", p, start, start + n - 1, failed);
        return failed;
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        if (e instanceof java.nio.file.NoSuchFileException) {
            m = "no such file: " + m;
        } else if (m == null) {
            m = e.toString();
        }
        return m.replace('\n', ' ').replace('\t', ' ');
    }

    /** Streams the finished parts into the final files, then removes the parts. */
    private void stitch() throws IOException {
        int parts = numParts();
        Progress progress = new Progress(LOG, "stitch", "images", items.size());
        float[] rows = new float[topK * (5 + dim)];
        try (LocalFeaturesWriter w = LocalFeaturesWriter.create(out.local(), topK, dim,
                LocalFeaturesWriter.Storage.CONTIGUOUS)) {
            for (int p = 0; p < parts; p++) {
                Path file = partFile(p, "local.hdf5");
                try (LocalFeatures part = LocalFeatures.open(file)) {
                    if (part.numImages() != partLength(p) || part.rowsPerImage() != topK || part.descriptorDim() != dim) {
                        throw new FormatException(file, "holds " + part.numImages() + " images of " + part.rowsPerImage()
                                + " x " + part.descriptorDim() + ", expected " + partLength(p) + " of " + topK + " x " + dim);
                    }
                    for (int i = 0; i < part.numImages(); i++) {
                        part.readRowsInto(i, topK, rows, 0);
                        w.add(rows, 0);
                        progress.advance(1);
                    }
                }
            }
            w.finish();
        }
        concatenate(out.global(), "global.f32", 4L * dim);
        concatenate(out.clsGlobal(), "cls.f32", 4L * dim);
        concatenate(out.failed(), "failed.txt", -1);
        progress.finish();
        deleteParts();
    }

    private void concatenate(Path target, String suffix, long bytesPerImage) throws IOException {
        int parts = numParts();
        for (int p = 0; p < parts; p++) {
            Path f = partFile(p, suffix);
            if (bytesPerImage > 0 && Files.size(f) != bytesPerImage * partLength(p)) {
                throw new FormatException(f, "has " + Files.size(f) + " bytes, expected " + partLength(p)
                        + " rows of " + bytesPerImage);
            }
        }
        AtomicFiles.write(target, o -> {
            for (int p = 0; p < parts; p++) {
                Files.copy(partFile(p, suffix), o);
            }
        });
    }

    private void deleteParts() throws IOException {
        try (Stream<Path> s = Files.walk(out.parts())) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
