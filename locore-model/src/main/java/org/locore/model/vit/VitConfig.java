package org.locore.model.vit;

import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;

import java.nio.file.Path;
import java.util.Map;

/**
 * The shape of a DINOv2 vision transformer (with register tokens).
 *
 * @param width      token width (768 for ViT-B)
 * @param depth      number of transformer blocks
 * @param heads      attention heads ({@code width} must be a multiple)
 * @param registers  register tokens (4 for the "reg" models)
 * @param patchSize  patch side in pixels (14)
 * @param posGrid    side of the square learned position grid (37 for 518-pixel pretraining)
 * @param mlpHidden  hidden width of each block's MLP (4 * width)
 * @param layerScale whether blocks scale their residual branches by learned {@code ls1/ls2.gamma} vectors
 * @param lnEps      LayerNorm epsilon (1e-6)
 */
public record VitConfig(int width, int depth, int heads, int registers, int patchSize, int posGrid, int mlpHidden,
                        boolean layerScale, double lnEps) {
    /** DINOv2's LayerNorm epsilon. */
    public static final double LN_EPS = 1e-6;

    /** Validates the sizes. */
    public VitConfig {
        if (width < 1 || depth < 0 || heads < 1 || width % heads != 0 || registers < 0 || patchSize < 1 || posGrid < 1
                || mlpHidden < 1 || !(lnEps > 0)) {
            throw new IllegalArgumentException("invalid ViT config: width " + width + ", depth " + depth + ", heads " + heads
                    + ", registers " + registers + ", patch " + patchSize + ", pos grid " + posGrid + ", mlp " + mlpHidden);
        }
    }

    /** The released DINOv2 ViT-B/14 with 4 registers ({@code dinov2_vitb14_reg4_pretrain.pth}). */
    public static VitConfig vitB14Reg4() {
        return new VitConfig(768, 12, 12, 4, 14, 37, 3072, true, LN_EPS);
    }

    /** Width of one attention head. */
    public int headDim() {
        return width / heads;
    }

    /**
     * Infers the configuration from a checkpoint's tensor shapes, with 64-dimensional heads
     * ({@code heads = width / 64}, as in every released DINOv2 model).
     *
     * @param stateDict official DINOv2 tensor names ({@code cls_token}, {@code pos_embed}, {@code blocks.N.*}...)
     * @param source    the file it was read from, for error messages (may be null)
     * @throws FormatException when a needed tensor is missing or has an impossible shape
     */
    public static VitConfig infer(Map<String, Tensor> stateDict, Path source) throws FormatException {
        CheckpointWeights w = new CheckpointWeights(stateDict, source);
        long width = w.dim("cls_token", 3, 2);
        if (width % 64 != 0) {
            throw new FormatException(source, "width " + width + " is not a multiple of 64: give the number of heads");
        }
        return infer(stateDict, source, (int) (width / 64));
    }

    /**
     * Infers the configuration from a checkpoint's tensor shapes, with a given number of heads (the state dict
     * does not record it).
     *
     * @throws FormatException when a needed tensor is missing or has an impossible shape
     */
    public static VitConfig infer(Map<String, Tensor> stateDict, Path source, int heads) throws FormatException {
        CheckpointWeights w = new CheckpointWeights(stateDict, source);
        int width = (int) w.dim("cls_token", 3, 2);
        long[] pe = w.shape("patch_embed.proj.weight");
        if (pe.length != 4 || pe[0] != width || pe[1] != 3 || pe[2] != pe[3]) {
            throw new FormatException(source, "tensor 'patch_embed.proj.weight' has shape " + java.util.Arrays.toString(pe)
                    + ", expected [" + width + ", 3, p, p]");
        }
        int patch = (int) pe[2];
        long positions = w.dim("pos_embed", 3, 1) - 1;
        int grid = (int) Math.round(Math.sqrt(positions));
        if ((long) grid * grid != positions) {
            throw new FormatException(source, "pos_embed holds " + positions + " patch positions, not a square grid");
        }
        int registers = w.contains("register_tokens") ? (int) w.dim("register_tokens", 3, 1) : 0;
        int depth = 0;
        while (w.contains("blocks." + depth + ".norm1.weight")) {
            depth++;
        }
        if (depth == 0) {
            throw new FormatException(source, "no transformer blocks ('blocks.0.norm1.weight' missing)");
        }
        int mlp = (int) w.dim("blocks.0.mlp.fc1.weight", 2, 0);
        boolean ls = w.contains("blocks.0.ls1.gamma");
        if (heads < 1 || width % heads != 0) {
            throw new FormatException(source, "width " + width + " cannot be split into " + heads + " heads");
        }
        return new VitConfig(width, depth, heads, registers, patch, grid, mlp, ls, LN_EPS);
    }
}
