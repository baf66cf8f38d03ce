package org.locore.model.vit;

import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.floating.RSqrt;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Runs {@link Dinov2Vit}'s graph eagerly on ND4J arrays, the same operations in the same order on the same
 * constants (read from the graph by name), but with fewer and larger steps: every matrix product is one 2-D
 * {@code sgemm} written into a preallocated output, the per-head attention reuses one {@code [T, T]} score buffer
 * (scaled queries, keys and values of all heads are laid out contiguously by one copy per layer), softmax, bias,
 * layer-scale, residual and GELU steps work in place. This avoids the graph executor's per-op allocation of
 * about 50 {@code [T, T]} and {@code [T, 4C]} arrays per layer. Not thread-safe.
 */
final class VitExecutor {
    private final VitConfig cfg;
    private final INDArray patchW;
    private final INDArray patchB;
    private final INDArray clsTok;
    private final INDArray registers;
    private final Block[] blocks;
    private final INDArray normW;
    private final INDArray normB;

    private static final class Block {
        INDArray norm1W, norm1B, qkvW, qkvB, projW, projB, ls1, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B, ls2;
    }

    VitExecutor(VitConfig cfg, SameDiff sd) {
        this.cfg = cfg;
        patchW = arr(sd, "patch_embed.proj.weight");
        patchB = arr(sd, "patch_embed.proj.bias");
        clsTok = arr(sd, "cls_token_pos");
        registers = cfg.registers() > 0 ? arr(sd, "register_tokens") : null;
        blocks = new Block[cfg.depth()];
        for (int b = 0; b < blocks.length; b++) {
            String n = "blocks." + b + ".";
            Block k = new Block();
            k.norm1W = arr(sd, n + "norm1.weight");
            k.norm1B = arr(sd, n + "norm1.bias");
            k.qkvW = arr(sd, n + "attn.qkv.weight");
            k.qkvB = arr(sd, n + "attn.qkv.bias");
            k.projW = arr(sd, n + "attn.proj.weight");
            k.projB = arr(sd, n + "attn.proj.bias");
            k.norm2W = arr(sd, n + "norm2.weight");
            k.norm2B = arr(sd, n + "norm2.bias");
            k.fc1W = arr(sd, n + "mlp.fc1.weight");
            k.fc1B = arr(sd, n + "mlp.fc1.bias");
            k.fc2W = arr(sd, n + "mlp.fc2.weight");
            k.fc2B = arr(sd, n + "mlp.fc2.bias");
            if (cfg.layerScale()) {
                k.ls1 = arr(sd, n + "ls1.gamma");
                k.ls2 = arr(sd, n + "ls2.gamma");
            }
            blocks[b] = k;
        }
        normW = arr(sd, "norm.weight");
        normB = arr(sd, "norm.bias");
    }

    private static INDArray arr(SameDiff sd, String name) {
        INDArray a = sd.getArrForVarName(name);
        if (a == null) {
            throw new IllegalStateException("graph has no constant " + name);
        }
        return a;
    }

    /**
     * @param patches {@code [N, 3*p*p]} unfolded patches
     * @param pos     {@code [N, width]} position table
     * @return {@code [1 + registers + N, width]} final-normed tokens
     */
    INDArray run(INDArray patches, INDArray pos) {
        int c = cfg.width();
        int n = (int) patches.size(0);
        int first = 1 + cfg.registers();
        int t = first + n;
        int heads = cfg.heads();
        int hd = cfg.headDim();
        int hidden = cfg.mlpHidden();
        INDArray emb = Nd4j.create(DataType.FLOAT, n, c);
        Nd4j.gemm(patches, patchW, emb, false, false, 1.0, 0.0);
        emb.addiRowVector(patchB).addi(pos);
        INDArray x = Nd4j.create(DataType.FLOAT, t, c);
        x.get(NDArrayIndex.interval(0, 1), NDArrayIndex.all()).assign(clsTok);
        if (registers != null) {
            x.get(NDArrayIndex.interval(1, first), NDArrayIndex.all()).assign(registers);
        }
        x.get(NDArrayIndex.interval(first, t), NDArrayIndex.all()).assign(emb);

        INDArray h = Nd4j.create(DataType.FLOAT, t, c);
        INDArray qkv = Nd4j.create(DataType.FLOAT, t, 3L * c);
        INDArray scores = Nd4j.create(DataType.FLOAT, t, t);
        INDArray headOut = Nd4j.create(DataType.FLOAT, heads, t, hd);
        INDArray attn = Nd4j.create(DataType.FLOAT, t, c);
        INDArray mlp = Nd4j.create(DataType.FLOAT, t, hidden);
        INDArray erfBuf = Nd4j.create(DataType.FLOAT, t, hidden);
        double scale = 1.0 / Math.sqrt(hd);
        for (Block b : blocks) {
            layerNorm(x, b.norm1W, b.norm1B, h);
            Nd4j.gemm(h, b.qkvW, qkv, false, false, 1.0, 0.0);
            qkv.addiRowVector(b.qkvB);
            // [T, 3, H, hd] -> [3, H, T, hd], contiguous: q, k, v of head i are slices [T, hd]
            INDArray split = qkv.reshape('c', t, 3, heads, hd).permute(1, 2, 0, 3).dup('c');
            INDArray q = split.slice(0);
            q.muli(scale);
            INDArray k = split.slice(1);
            INDArray v = split.slice(2);
            for (int i = 0; i < heads; i++) {
                Nd4j.gemm(q.slice(i), k.slice(i), scores, false, true, 1.0, 0.0);
                Nd4j.exec(new SoftMax(scores, scores, 1));
                Nd4j.gemm(scores, v.slice(i), headOut.slice(i), false, false, 1.0, 0.0);
            }
            attn.assign(headOut.permute(1, 0, 2).reshape('c', t, c));
            Nd4j.gemm(attn, b.projW, h, false, false, 1.0, 0.0);
            h.addiRowVector(b.projB);
            if (b.ls1 != null) {
                h.muliRowVector(b.ls1);
            }
            x.addi(h);
            layerNorm(x, b.norm2W, b.norm2B, h);
            Nd4j.gemm(h, b.fc1W, mlp, false, false, 1.0, 0.0);
            mlp.addiRowVector(b.fc1B);
            geluErfInPlace(mlp, erfBuf);
            Nd4j.gemm(mlp, b.fc2W, h, false, false, 1.0, 0.0);
            h.addiRowVector(b.fc2B);
            if (b.ls2 != null) {
                h.muliRowVector(b.ls2);
            }
            x.addi(h);
        }
        INDArray out = Nd4j.create(DataType.FLOAT, t, c);
        layerNorm(x, normW, normB, out);
        return out;
    }

    /** {@link Dinov2Vit#layerNorm}'s steps: mean, centre, biased variance, times rsqrt(var + eps), weight, bias. */
    private void layerNorm(INDArray x, INDArray w, INDArray b, INDArray out) {
        INDArray mean = x.mean(true, 1);
        out.assign(x).subiColumnVector(mean);
        INDArray var = out.mul(out).mean(true, 1);
        var.addi(cfg.lnEps());
        Nd4j.exec(new RSqrt(var, var));
        out.muliColumnVector(var).muliRowVector(w).addiRowVector(b);
    }

    /** {@code x * (erf(x / sqrt 2) + 1) * 0.5} in place, as {@link Dinov2Vit#geluErf} orders it. */
    private static void geluErfInPlace(INDArray x, INDArray buf) {
        buf.assign(x).muli(1.0 / Math.sqrt(2.0));
        Nd4j.exec(new Erf(buf, buf));
        buf.addi(1.0);
        x.muli(buf).muli(0.5);
    }
}
