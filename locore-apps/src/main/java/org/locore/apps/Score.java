package org.locore.apps;

import org.locore.model.io.DType;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreInputs;
import org.locore.model.locore.LocoreModel;
import org.locore.model.locore.ScoreMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code locore score}: runs the LOCORE re-ranker on one batch of inputs in the fixture layout and writes its
 * outputs ({@code logits}, {@code last_hidden_state} and the three per-image scores) to a safetensors file.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Runs the LOCORE re-ranker on a batch of inputs (safetensors: query_local, query_scales,",
                "query_mask, query_global, gallery_local, gallery_scales, gallery_mask, gallery_global) and writes",
                "logits, last_hidden_state, score_max_end, score_max_start and score_max_sum (float32)."})
public final class Score implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(Score.class);

    @Option(names = "--config", required = true, paramLabel = "CONFIG.json",
            description = "HF Longformer config, or a JSON object whose 'config' key holds one")
    Path config;

    @Option(names = "--weights", required = true, paramLabel = "W.safetensors", description = "LOCORE model weights")
    Path weights;

    @Option(names = "--inputs", required = true, paramLabel = "IN.safetensors", description = "the input batch")
    Path inputs;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "where to write the outputs")
    Path out;

    @Option(names = "--no-query-global-attention",
            description = "only SEP tokens attend globally (default: every query token too, as released)")
    boolean noQueryGlobalAttention;

    @Option(names = "--layers", paramLabel = "N", description = "use only the first N encoder layers (LOCORE-small: 6)")
    Integer layers;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        LocoreConfig c = LocoreConfig.read(config);
        LocoreInputs in = LocoreInputs.read(inputs);
        c = new LocoreConfig(c.longformer(), in.descriptors(), in.gallerySize(), !noQueryGlobalAttention,
                layers == null ? c.layersKept() : layers);
        LocoreModel model = LocoreModel.load(weights, c);
        long t0 = System.nanoTime();
        LocoreModel.Output o = model.forward(in);
        LOG.info("scored {} sequences of {} gallery images in {} ms", in.batch(), in.gallerySize(),
                (System.nanoTime() - t0) / 1_000_000);
        Safetensors.write(out, List.of(
                Tensor.of("logits", o.logits(), DType.F32),
                Tensor.of("last_hidden_state", o.lastHiddenState(), DType.F32),
                Tensor.of("score_max_end", o.scores(ScoreMode.MAX_END), DType.F32),
                Tensor.of("score_max_start", o.scores(ScoreMode.MAX_START), DType.F32),
                Tensor.of("score_max_sum", o.scores(ScoreMode.MAX_SUM), DType.F32)));
        spec.commandLine().getOut().println("wrote " + out);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
