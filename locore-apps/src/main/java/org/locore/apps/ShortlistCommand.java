package org.locore.apps;

import org.locore.data.features.GlobalDescriptors;
import org.locore.data.shortlist.DescriptorSource;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistBuilder;
import org.locore.data.shortlist.ShortlistFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code locore shortlist}: exact inner-product top-M of query global descriptors against gallery global
 * descriptors ({@link ShortlistBuilder}), written as a shortlist pickle ({@code nn_<desc>.pkl}).
 */
@Command(name = "shortlist", mixinStandardHelpOptions = true,
        description = {"Builds the global-descriptor shortlist: for each query, the top-M gallery images by inner",
                "product (exact, blocked), written as a pickled float64 [2, Nq, M] array (nn_<desc>.pkl)."})
public final class ShortlistCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ShortlistCommand.class);

    @Option(names = "--queries", required = true, paramLabel = "Q.pt", description = "query global descriptors (float32 [Nq, D])")
    Path queries;

    @Option(names = "--gallery", required = true, paramLabel = "G.pt", description = "gallery global descriptors (float32 [N, D])")
    Path gallery;

    @Option(names = "--dim", paramLabel = "D", defaultValue = "768", description = "descriptor dimension (default: ${DEFAULT-VALUE})")
    int dim;

    @Option(names = "--top", paramLabel = "M", defaultValue = "1600", description = "neighbours per query (default: ${DEFAULT-VALUE})")
    int top;

    @Option(names = "--out", required = true, paramLabel = "nn.pkl", description = "the shortlist file to write")
    Path out;

    @Option(names = "--exclude-self", description = "never list gallery image i for query i (query set = gallery set)")
    boolean excludeSelf;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (top < 1) throw new IllegalArgumentException("--top must be positive, got " + top);
        try (GlobalDescriptors q = GlobalDescriptors.open(queries, dim);
             GlobalDescriptors g = GlobalDescriptors.open(gallery, dim)) {
            ShortlistBuilder b = new ShortlistBuilder(top).withExcludeSelf(excludeSelf);
            long t0 = System.nanoTime();
            Shortlist s = b.build(DescriptorSource.of(q.size(), q.dim(), q::get),
                    DescriptorSource.of(g.size(), g.dim(), g::get));
            double secs = (System.nanoTime() - t0) / 1e9;
            LOG.info(String.format(Locale.ROOT, "shortlist: %,d queries x %,d gallery images, top %d, %.1fs",
                    q.size(), g.size(), s.length(), secs));
            ShortlistFile.write(out, s);
            spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: %d queries x %d neighbours%n", out,
                    s.numQueries(), s.length());
            spec.commandLine().getOut().flush();
        }
        return 0;
    }
}
