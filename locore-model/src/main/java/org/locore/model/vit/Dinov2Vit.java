package org.locore.model.vit;

import org.locore.model.rowops.RowOps;
import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The DINOv2 vision transformer with register tokens (official {@code dinov2_vitb14_reg} semantics) in inference
 * mode: patch embedding (a {@code p x p}, stride {@code p} convolution, computed exactly as
 * unfold + matrix product), {@code [CLS + pos[0], registers, patches + pos]} tokens with the position table resized
 * to the patch grid by {@link PositionTable}, pre-norm blocks with layer scale and exact (erf) GELU, and a final
 * LayerNorm. {@link #forward(INDArray)} runs it eagerly ({@link VitExecutor}, {@link VitForwardPath#EAGER});
 * the SameDiff graph ({@link VitForwardPath#GRAPH}, built on first use from the same weight arrays) is kept as the
 * reference. The graph takes the unfolded patches and the resized position table as placeholders, so one graph
 * serves every image size.
 *
 * <p>Tensor names are those of the official checkpoints ({@code cls_token}, {@code pos_embed},
 * {@code register_tokens}, {@code patch_embed.proj.*}, {@code blocks.N.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,
 * mlp.fc1,mlp.fc2,ls2.gamma}.*}, {@code norm.*}); {@code mask_token} is unused at inference.
 */
public final class Dinov2Vit {
    private static final Logger LOG = LoggerFactory.getLogger(Dinov2Vit.class);
    private static final String IN_PATCHES = "patches";
    private static final String IN_POS = "pos";
    private static final String OUT_TOKENS = "tokens";

    private final VitConfig config;
    private final Params params;
    private final VitExecutor.Weights weights;
    private final VitExecutor executor;
    private SameDiff sd;
    /** Tests: runs the eager path on this executor instead. */
    private VitExecutor executorOverride;
    /** Patch part of the learned position table, {@code [grid*grid*width]} channels last, in double. */
    private final double[] posGrid;
    private final Map<Long, INDArray> posCache = new ConcurrentHashMap<>();

    /** The outputs for one image. */
    public record Output(INDArray cls, INDArray patchTokens, int gridH, int gridW) {
        /**
         * @param cls         {@code [1, width]} final-normed CLS token
         * @param patchTokens {@code [1, gridH*gridW, width]} final-normed patch tokens, row-major over the grid
         * @param gridH       patch rows
         * @param gridW       patch columns
         */
        public Output {
        }
    }

    private Dinov2Vit(VitConfig config, Params params, double[] posGrid) {
        this.config = config;
        this.params = params;
        this.weights = weights(params);
        params.dropMatrices(); // the graph takes them from weights: no second copy on the heap
        this.executor = new VitExecutor(config, weights, RowOps.best(), VitExecutor.Options.defaults());
        this.posGrid = posGrid;
        if (!RowOps.VECTOR_API) {
            LOG.info("jdk.incubator.vector is not enabled: the ViT's element-wise kernels run in scalar Java "
                    + "(add --add-modules jdk.incubator.vector to the java command for the SIMD ones)");
        }
    }

    /**
     * Builds the network from a state dict with the official tensor names.
     *
     * @param stateDict name to tensor (as read from {@code dinov2_vitb14_reg4_pretrain.pth})
     * @param config    the shape ({@link VitConfig#infer})
     * @param source    the checkpoint file, for error messages (may be null)
     * @throws FormatException when a tensor is missing or has the wrong shape
     */
    public static Dinov2Vit fromStateDict(Map<String, Tensor> stateDict, VitConfig config, Path source)
            throws FormatException {
        CheckpointWeights w = new CheckpointWeights(stateDict, source);
        int c = config.width();
        int p = config.patchSize();
        int g = config.posGrid();
        Params params = new Params(config);
        params.cls = w.floats("cls_token", 1, 1, c);
        float[] pos = w.floats("pos_embed", 1, (long) g * g + 1, c);
        params.pos0 = Arrays.copyOfRange(pos, 0, c);
        double[] grid = new double[g * g * c];
        for (int i = 0; i < grid.length; i++) {
            grid[i] = pos[c + i];
        }
        params.registers = config.registers() > 0 ? w.floats("register_tokens", 1, config.registers(), c) : new float[0];
        params.patchW = w.floats("patch_embed.proj.weight", c, 3, p, p);
        params.patchB = w.floats("patch_embed.proj.bias", c);
        for (int b = 0; b < config.depth(); b++) {
            String n = "blocks." + b + ".";
            BlockParams bp = params.blocks[b];
            bp.norm1W = w.floats(n + "norm1.weight", c);
            bp.norm1B = w.floats(n + "norm1.bias", c);
            bp.qkvW = w.floats(n + "attn.qkv.weight", 3L * c, c);
            bp.qkvB = w.floats(n + "attn.qkv.bias", 3L * c);
            bp.projW = w.floats(n + "attn.proj.weight", c, c);
            bp.projB = w.floats(n + "attn.proj.bias", c);
            bp.norm2W = w.floats(n + "norm2.weight", c);
            bp.norm2B = w.floats(n + "norm2.bias", c);
            bp.fc1W = w.floats(n + "mlp.fc1.weight", config.mlpHidden(), c);
            bp.fc1B = w.floats(n + "mlp.fc1.bias", config.mlpHidden());
            bp.fc2W = w.floats(n + "mlp.fc2.weight", c, config.mlpHidden());
            bp.fc2B = w.floats(n + "mlp.fc2.bias", c);
            if (config.layerScale()) {
                bp.ls1 = w.floats(n + "ls1.gamma", c);
                bp.ls2 = w.floats(n + "ls2.gamma", c);
            }
        }
        if (w.contains("blocks." + config.depth() + ".norm1.weight")) {
            throw new FormatException(source, "checkpoint has more than " + config.depth() + " blocks");
        }
        params.normW = w.floats("norm.weight", c);
        params.normB = w.floats("norm.bias", c);
        return new Dinov2Vit(config, params, grid);
    }

    /**
     * A network with seeded random weights of realistic scale (for benchmarks and smoke tests).
     */
    public static Dinov2Vit random(VitConfig config, long seed) {
        Random r = new Random(seed);
        int c = config.width();
        int p = config.patchSize();
        int g = config.posGrid();
        Params params = new Params(config);
        params.cls = gaussian(r, c, 0.02);
        params.pos0 = gaussian(r, c, 0.02);
        double[] grid = new double[g * g * c];
        for (int i = 0; i < grid.length; i++) {
            grid[i] = r.nextGaussian() * 0.02;
        }
        params.registers = gaussian(r, config.registers() * c, 0.02);
        params.patchW = gaussian(r, c * 3 * p * p, 1.0 / Math.sqrt(3.0 * p * p));
        params.patchB = gaussian(r, c, 0.02);
        for (BlockParams bp : params.blocks) {
            bp.norm1W = ones(c);
            bp.norm1B = new float[c];
            bp.qkvW = gaussian(r, 3 * c * c, 1.0 / Math.sqrt(c));
            bp.qkvB = gaussian(r, 3 * c, 0.02);
            bp.projW = gaussian(r, c * c, 1.0 / Math.sqrt(c));
            bp.projB = gaussian(r, c, 0.02);
            bp.norm2W = ones(c);
            bp.norm2B = new float[c];
            bp.fc1W = gaussian(r, config.mlpHidden() * c, 1.0 / Math.sqrt(c));
            bp.fc1B = gaussian(r, config.mlpHidden(), 0.02);
            bp.fc2W = gaussian(r, c * config.mlpHidden(), 1.0 / Math.sqrt(config.mlpHidden()));
            bp.fc2B = gaussian(r, c, 0.02);
            if (config.layerScale()) {
                bp.ls1 = gaussian(r, c, 0.1);
                bp.ls2 = gaussian(r, c, 0.1);
            }
        }
        params.normW = ones(c);
        params.normB = new float[c];
        return new Dinov2Vit(config, params, grid);
    }

    /** The network's shape. */
    public VitConfig config() {
        return config;
    }

    /**
     * The SameDiff graph (placeholders {@code patches [N, 3*p*p]}, {@code pos [N, width]}; output {@code tokens}),
     * built on the first call.
     */
    public synchronized SameDiff graph() {
        if (sd == null) {
            sd = build(params, weights);
        }
        return sd;
    }

    /**
     * Runs the network on one normalised RGB image on the fast {@link VitForwardPath#EAGER} path.
     *
     * @param image {@code [1, 3, H, W]} (or {@code [3, H, W]}) float, H and W multiples of the patch size
     * @return CLS and patch tokens after the final LayerNorm (registers dropped)
     */
    public Output forward(INDArray image) {
        return forward(image, VitForwardPath.EAGER);
    }

    /**
     * Tests: the eager path runs on a new executor with these row kernels and options (null: the default one).
     */
    void useExecutor(RowOps ops, VitExecutor.Options options) {
        executorOverride = ops == null ? null : new VitExecutor(config, weights, ops, options);
    }

    /**
     * Seconds per stage of the eager path summed over all its runs so far (patch embedding, GEMMs, attention,
     * LayerNorms, GELU, ...): a profile.
     */
    public Map<String, Double> eagerStageSeconds() {
        synchronized (executor) {
            return executor.stageSeconds();
        }
    }

    /**
     * Runs the network on one normalised RGB image.
     *
     * @param image {@code [1, 3, H, W]} (or {@code [3, H, W]}) float, H and W multiples of the patch size
     * @param path  eager execution or the SameDiff graph (same values)
     * @return CLS and patch tokens after the final LayerNorm (registers dropped)
     */
    public Output forward(INDArray image, VitForwardPath path) {
        INDArray im = image.rank() == 3 ? image.reshape(1, image.size(0), image.size(1), image.size(2)) : image;
        if (im.rank() != 4 || im.size(0) != 1 || im.size(1) != 3) {
            throw new IllegalArgumentException("expected a [1, 3, H, W] image, got " + Arrays.toString(image.shape()));
        }
        int p = config.patchSize();
        long h = im.size(2);
        long wd = im.size(3);
        if (h % p != 0 || wd % p != 0 || h == 0 || wd == 0) {
            throw new IllegalArgumentException("image size " + h + "x" + wd + " is not a positive multiple of " + p);
        }
        int gh = (int) (h / p);
        int gw = (int) (wd / p);
        INDArray patches = unfold(im.castTo(DataType.FLOAT), gh, gw, p);
        INDArray pos = positionTable(gh, gw);
        long t0 = System.nanoTime();
        INDArray tokens;
        if (path == VitForwardPath.GRAPH) {
            tokens = graph().output(Map.of(IN_PATCHES, patches, IN_POS, pos), OUT_TOKENS).get(OUT_TOKENS);
        } else {
            VitExecutor exec = executorOverride != null ? executorOverride : executor;
            synchronized (exec) {
                tokens = exec.run(patches, pos);
            }
        }
        LOG.debug("ViT forward ({}) {}x{} patches in {} ms", path, gh, gw, (System.nanoTime() - t0) / 1_000_000);
        int c = config.width();
        int first = 1 + config.registers();
        INDArray cls = tokens.get(NDArrayIndex.interval(0, 1), NDArrayIndex.all()).dup('c').reshape(1, c);
        INDArray patchTokens = tokens.get(NDArrayIndex.interval(first, tokens.size(0)), NDArrayIndex.all()).dup('c')
                .reshape(1, (long) gh * gw, c);
        if (path != VitForwardPath.GRAPH && tokens.closeable()) {
            tokens.close();
        }
        if (patches.closeable()) {
            patches.close();
        }
        return new Output(cls, patchTokens, gh, gw);
    }

    /**
     * The learned patch position table resized to a {@code gh x gw} grid, {@code [gh*gw, width]} (the original
     * table when the grid is unchanged).
     */
    public INDArray positionTable(int gh, int gw) {
        long key = ((long) gh << 32) | gw;
        return posCache.computeIfAbsent(key, k -> {
            int g = config.posGrid();
            int c = config.width();
            double[] resized = (gh == g && gw == g) ? posGrid : PositionTable.resize(posGrid, g, g, c, gh, gw);
            float[] f = new float[resized.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) resized[i];
            }
            return Nd4j.createFromArray(f).reshape((long) gh * gw, c);
        });
    }

    /** {@code [1,3,H,W]} to {@code [gh*gw, 3*p*p]}: rows in grid order, columns in (channel, row, column) order. */
    static INDArray unfold(INDArray im, int gh, int gw, int p) {
        return im.reshape('c', 3, gh, p, gw, p).permute(1, 3, 0, 2, 4).dup('c').reshape('c', (long) gh * gw, 3L * p * p);
    }

    /** The executor's weights: GEMM matrices transposed to {@code [in, out]} (shared with the graph's constants). */
    private static VitExecutor.Weights weights(Params pr) {
        VitConfig cfg = pr.config;
        int c = cfg.width();
        int p = cfg.patchSize();
        float[] cls = new float[c];
        for (int i = 0; i < c; i++) {
            cls[i] = pr.cls[i] + pr.pos0[i];
        }
        VitExecutor.Block[] blocks = new VitExecutor.Block[cfg.depth()];
        for (int b = 0; b < blocks.length; b++) {
            BlockParams bp = pr.blocks[b];
            blocks[b] = new VitExecutor.Block(bp.norm1W, bp.norm1B, transposed(bp.qkvW, 3 * c, c), bp.qkvB,
                    transposed(bp.projW, c, c), bp.projB, bp.ls1, bp.norm2W, bp.norm2B,
                    transposed(bp.fc1W, cfg.mlpHidden(), c), bp.fc1B, transposed(bp.fc2W, c, cfg.mlpHidden()), bp.fc2B,
                    bp.ls2);
        }
        return new VitExecutor.Weights(transposed(pr.patchW, c, 3 * p * p), pr.patchB, cls, pr.registers, blocks,
                pr.normW, pr.normB);
    }

    private static SameDiff build(Params pr, VitExecutor.Weights wt) {
        VitConfig cfg = pr.config;
        int c = cfg.width();
        int p = cfg.patchSize();
        int hd = cfg.headDim();
        SameDiff sd = SameDiff.create();
        SDVariable patches = sd.placeHolder(IN_PATCHES, DataType.FLOAT, -1, 3L * p * p);
        SDVariable pos = sd.placeHolder(IN_POS, DataType.FLOAT, -1, c);
        SDVariable wPatch = sd.constant("patch_embed.proj.weight", wt.patchW());
        SDVariable bPatch = sd.constant("patch_embed.proj.bias", row(pr.patchB));
        SDVariable x = sd.mmul(patches, wPatch).add(bPatch).add(pos);
        SDVariable clsTok = sd.constant("cls_token_pos", Nd4j.createFromArray(wt.clsPos()).reshape(1, c));
        if (cfg.registers() > 0) {
            SDVariable reg = sd.constant("register_tokens",
                    Nd4j.createFromArray(pr.registers).reshape(cfg.registers(), c));
            x = sd.concat(0, clsTok, reg, x);
        } else {
            x = sd.concat(0, clsTok, x);
        }
        double scale = 1.0 / Math.sqrt(hd);
        for (int b = 0; b < cfg.depth(); b++) {
            BlockParams bp = pr.blocks[b];
            VitExecutor.Block bw = wt.blocks()[b];
            String n = "blocks." + b + ".";
            SDVariable h = layerNorm(sd, x, bp.norm1W, bp.norm1B, cfg.lnEps(), n + "norm1");
            SDVariable qkv = sd.mmul(h, sd.constant(n + "attn.qkv.weight", bw.qkvW()))
                    .add(sd.constant(n + "attn.qkv.bias", row(bp.qkvB)));
            SDVariable[] heads = new SDVariable[cfg.heads()];
            for (int k = 0; k < cfg.heads(); k++) {
                SDVariable q = sd.slice(qkv, new int[]{0, k * hd}, -1, hd).mul(scale);
                SDVariable key = sd.slice(qkv, new int[]{0, c + k * hd}, -1, hd);
                SDVariable v = sd.slice(qkv, new int[]{0, 2 * c + k * hd}, -1, hd);
                SDVariable att = sd.nn.softmax(sd.mmul(q, key, false, true, false), 1);
                heads[k] = sd.mmul(att, v);
            }
            SDVariable a = cfg.heads() == 1 ? heads[0] : sd.concat(1, heads);
            a = sd.mmul(a, sd.constant(n + "attn.proj.weight", bw.projW()))
                    .add(sd.constant(n + "attn.proj.bias", row(bp.projB)));
            if (cfg.layerScale()) {
                a = a.mul(sd.constant(n + "ls1.gamma", row(bp.ls1)));
            }
            x = x.add(a);
            h = layerNorm(sd, x, bp.norm2W, bp.norm2B, cfg.lnEps(), n + "norm2");
            SDVariable m = sd.mmul(h, sd.constant(n + "mlp.fc1.weight", bw.fc1W()))
                    .add(sd.constant(n + "mlp.fc1.bias", row(bp.fc1B)));
            m = geluErf(sd, m);
            m = sd.mmul(m, sd.constant(n + "mlp.fc2.weight", bw.fc2W()))
                    .add(sd.constant(n + "mlp.fc2.bias", row(bp.fc2B)));
            if (cfg.layerScale()) {
                m = m.mul(sd.constant(n + "ls2.gamma", row(bp.ls2)));
            }
            x = x.add(m);
        }
        SDVariable out = layerNorm(sd, x, pr.normW, pr.normB, cfg.lnEps(), "norm");
        sd.identity(OUT_TOKENS, out);
        return sd;
    }

    /** LayerNorm over the last dimension of a {@code [T, C]} variable, with biased variance. */
    static SDVariable layerNorm(SameDiff sd, SDVariable x, float[] weight, float[] bias, double eps, String name) {
        SDVariable mean = x.mean(true, 1);
        SDVariable centred = x.sub(mean);
        SDVariable var = centred.mul(centred).mean(true, 1);
        SDVariable normed = centred.mul(sd.math.rsqrt(var.add(eps)));
        return normed.mul(sd.constant(name + ".weight", row(weight))).add(sd.constant(name + ".bias", row(bias)));
    }

    /** Exact GELU: {@code 0.5 x (1 + erf(x / sqrt 2))}. */
    static SDVariable geluErf(SameDiff sd, SDVariable x) {
        return x.mul(sd.math.erf(x.mul(1.0 / Math.sqrt(2.0))).add(1.0)).mul(0.5);
    }

    /** A PyTorch {@code [out, in]} weight as an {@code [in, out]} array. */
    static INDArray transposed(float[] w, int out, int in) {
        return Nd4j.createFromArray(w).reshape('c', out, in).transpose().dup('c');
    }

    static INDArray row(float[] v) {
        return Nd4j.createFromArray(v).reshape(1, v.length);
    }

    private static float[] gaussian(Random r, int n, double std) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (r.nextGaussian() * std);
        }
        return f;
    }

    private static float[] ones(int n) {
        float[] f = new float[n];
        Arrays.fill(f, 1f);
        return f;
    }

    private static final class Params {
        final VitConfig config;
        final BlockParams[] blocks;
        float[] cls;
        float[] pos0;
        float[] registers;
        float[] patchW;
        float[] patchB;
        float[] normW;
        float[] normB;

        Params(VitConfig config) {
            this.config = config;
            blocks = new BlockParams[config.depth()];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = new BlockParams();
            }
        }

        /** Forgets the weight matrices (kept as arrays in {@link VitExecutor.Weights}); the vectors stay. */
        void dropMatrices() {
            patchW = null;
            for (BlockParams bp : blocks) {
                bp.qkvW = null;
                bp.projW = null;
                bp.fc1W = null;
                bp.fc2W = null;
            }
        }
    }

    private static final class BlockParams {
        float[] norm1W, norm1B, qkvW, qkvB, projW, projB, ls1, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B, ls2;
    }
}
