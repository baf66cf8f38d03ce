package org.locore.model.longformer;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * SameDiff building blocks whose gradients are correct in DL4J 1.0.0-M2.1, composed from primitives:
 * 2-D linear layers with PyTorch-layout weights, LayerNorm with an explicit epsilon, the exact (erf) GELU, the
 * native softmax (its gradient is verified by {@code BandedAttentionTest}) and a log-softmax written out from
 * max, exp, sum and log.
 */
public final class GraphOps {
    private GraphOps() {
    }

    /**
     * {@code x W^T + b} for a 2-D input.
     *
     * @param x      {@code [rows, in]}
     * @param weight {@code [out, in]} (PyTorch layout)
     * @param bias   {@code [out]}
     * @return {@code [rows, out]}
     */
    public static SDVariable linear(SDVariable x, SDVariable weight, SDVariable bias) {
        SameDiff sd = x.getSameDiff();
        return sd.mmul(x, weight, false, true, false).add(bias);
    }

    /**
     * LayerNorm over the last axis: {@code (x - mean) / sqrt(var + eps) * gamma + beta} (biased variance).
     *
     * @param x     input of the given rank, normalised over its last axis
     * @param rank  the rank of {@code x}
     * @param gamma {@code [features]}
     * @param beta  {@code [features]}
     * @param eps   added to the variance
     */
    public static SDVariable layerNorm(SDVariable x, int rank, SDVariable gamma, SDVariable beta, double eps) {
        SameDiff sd = x.getSameDiff();
        int last = rank - 1;
        SDVariable centred = x.sub(x.mean(true, last));
        SDVariable var = centred.mul(centred).mean(true, last);
        SDVariable norm = centred.mul(sd.math.rsqrt(var.add(eps)));
        return norm.mul(gamma).add(beta);
    }

    /** The exact GELU {@code 0.5 x (1 + erf(x / sqrt 2))}. */
    public static SDVariable gelu(SDVariable x) {
        SameDiff sd = x.getSameDiff();
        return x.mul(sd.math.erf(x.mul(1.0 / Math.sqrt(2.0))).add(1.0)).mul(0.5);
    }

    /**
     * Softmax over one axis (the native op; its forward and gradient are checked against a dense reference and
     * finite differences).
     *
     * @param x    input
     * @param axis non-negative axis index
     */
    public static SDVariable softmax(SDVariable x, int axis) {
        SameDiff sd = x.getSameDiff();
        return sd.nn.softmax(x, axis);
    }

    /**
     * {@code x - logSumExp(x)} over one non-negative axis, the shape kept, written out from max, exp, sum and log
     * (the gradients of M2.1's {@code logSumExp} and {@code logSoftmax} are broken); stable for rows of huge
     * negatives.
     */
    public static SDVariable logSoftmax(SDVariable x, int axis) {
        SameDiff sd = x.getSameDiff();
        SDVariable z = x.sub(x.max(true, axis));
        return z.sub(sd.math.log(sd.math.exp(z).sum(true, axis)));
    }
}
