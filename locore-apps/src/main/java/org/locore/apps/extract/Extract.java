package org.locore.apps.extract;

import org.locore.data.groundtruth.GroundTruth;
import org.locore.data.groundtruth.ImageList;
import org.locore.data.image.ImagePreprocessor;
import org.locore.model.io.FormatException;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code locore extract}: local and global DINOv2 + AMES features of every image of a list, in AMES's file
 * formats ({@code <name><split>_local.hdf5}, {@code <name><split>_global.pt}, {@code <name>_cls<split>_global.pt}),
 * resumable after a crash (see {@link ExtractionJob}).
 */
@Command(name = "extract", mixinStandardHelpOptions = true,
        description = "Extracts DINOv2 + AMES local features (top-K patches by detector weight) and the two global "
                + "descriptors of every image of a list. Progress is logged (images/s, ETA); an interrupted run "
                + "continues where it stopped when started again with the same options. Images that cannot be read "
                + "are reported by name, listed in <name><split>_failed.txt and stored as padding.")
public final class Extract implements Callable<Integer> {

    @Option(names = "--images", paramLabel = "DIR", defaultValue = ".",
            description = "folder the list's relative paths start from (default: ${DEFAULT-VALUE})")
    Path images;

    @Option(names = "--list", paramLabel = "LIST.txt", required = true,
            description = "image list: one 'relative_path,label,width,height' line per image, in output order")
    Path list;

    @Option(names = "--vit", paramLabel = "W.pth", required = true,
            description = "DINOv2 checkpoint (dinov2_vitb14_reg4_pretrain.pth)")
    Path vit;

    @Option(names = "--detector", paramLabel = "D.pt", required = true,
            description = "AMES detector checkpoint (dinov2_detector.pt)")
    Path detector;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = ".",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--name", defaultValue = "dinov2", description = "descriptor name, the file prefix (default: ${DEFAULT-VALUE})")
    String name;

    @Option(names = "--split", defaultValue = "", description = "split suffix of the file names, e.g. _query (default: none)")
    String split;

    @Option(names = "--gnd", paramLabel = "gnd.pkl",
            description = "ground truth whose query boxes crop the images (one query per list line), for query splits")
    Path gnd;

    @Option(names = "--topk", paramLabel = "K", defaultValue = "100",
            description = "local features kept per image (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--imsize", defaultValue = "" + ImagePreprocessor.DEFAULT_IMSIZE,
            description = "longest side of the full image after resizing (default: ${DEFAULT-VALUE})")
    int imsize;

    @Option(names = "--heads", defaultValue = "0",
            description = "attention heads of the ViT (default: width / 64, as in every released DINOv2)")
    int heads;

    @Option(names = "--part-size", paramLabel = "P", defaultValue = "500",
            description = "images per resumable part (default: ${DEFAULT-VALUE})")
    int partSize;

    @Option(names = "--max-parts", paramLabel = "N", defaultValue = "0",
            description = "stop after N new parts (0: run to the end); a later run continues")
    int maxParts;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "CPU threads for ND4J and OpenBLAS (default: ND4J's choice, one per core); on a machine shared "
                    + "with other jobs 1 can be much faster than several threads that wait for each other")
    int threads;

    @Option(names = "--overwrite", description = "extract again when the output files exist already")
    boolean overwrite;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Images run through the extractor by the last {@link #call()} (for tests of resuming). */
    int lastExtracted;

    @Override
    public Integer call() throws Exception {
        if (topK < 1) {
            throw new IllegalArgumentException("--topk must be positive, got " + topK);
        }
        if (imsize < 1) {
            throw new IllegalArgumentException("--imsize must be positive, got " + imsize);
        }
        if (maxParts < 0) {
            throw new IllegalArgumentException("--max-parts must be 0 or more, got " + maxParts);
        }
        if (!Files.isDirectory(images)) {
            throw new IllegalArgumentException("--images " + images + " is not a folder");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must be 0 or more, got " + threads);
        }
        if (threads > 0) {
            Nd4j.getEnvironment().setMaxThreads(threads);
            Nd4j.getEnvironment().setMaxMasterThreads(threads);
            Nd4j.factory().blas().setMaxThreads(threads);
        }
        ImageList imageList = ImageList.read(list);
        List<ExtractionJob.Item> items = items(imageList);
        Extractor extractor = Extractor.load(vit, detector, heads, imsize, topK);
        String options = "list_sha256=" + sha256(list) + "\nimages_dir=" + images.toAbsolutePath().normalize()
                + "\nvit=" + vit.toAbsolutePath().normalize() + "\ndetector=" + detector.toAbsolutePath().normalize()
                + "\nheads=" + heads + "\nimsize=" + imsize + "\ngnd=" + (gnd == null ? "" : sha256(gnd));
        ExtractionJob.Outputs files = ExtractionJob.Outputs.of(out, name, split);
        ExtractionJob job = new ExtractionJob(items, files, topK, extractor.dim(), partSize, options);
        ExtractionJob.Summary s = job.run(extractor::extract, maxParts, overwrite);
        lastExtracted = s.extracted();
        PrintWriter w = spec.commandLine().getOut();
        w.printf("extracted %d of %d images in this run (%d from earlier runs), %d failed%n", s.extracted(), s.images(),
                s.resumed(), s.failed());
        if (s.complete()) {
            w.printf("local features  %s [%d, %d, %d]%n", files.local(), s.images(), topK, 5 + extractor.dim());
            w.printf("global          %s [%d, %d]%n", files.global(), s.images(), extractor.dim());
            w.printf("cls global      %s [%d, %d]%n", files.clsGlobal(), s.images(), extractor.dim());
            w.printf("failed images   %s%n", files.failed());
        } else {
            w.printf("incomplete: parts in %s; run again to continue%n", files.parts());
        }
        w.flush();
        return 0;
    }

    private List<ExtractionJob.Item> items(ImageList imageList) throws IOException {
        List<GroundTruth.Query> queries = null;
        if (gnd != null) {
            GroundTruth g = GroundTruth.read(gnd);
            if (g.numQueries() != imageList.size()) {
                throw new FormatException(gnd, g.numQueries() + " queries, but " + list + " lists " + imageList.size()
                        + " images: the query list must hold the queries in ground-truth order");
            }
            queries = g.queries();
        }
        List<ExtractionJob.Item> items = new ArrayList<>(imageList.size());
        for (int i = 0; i < imageList.size(); i++) {
            String rel = imageList.get(i).path();
            double[] bbx = null;
            if (queries != null) {
                bbx = queries.get(i).bbx();
                if (bbx == null) {
                    throw new FormatException(gnd, "query " + i + " has no bbx to crop " + rel + " with");
                }
            }
            items.add(new ExtractionJob.Item(rel, images.resolve(rel), bbx));
        }
        return items;
    }

    private static String sha256(Path file) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (var in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
