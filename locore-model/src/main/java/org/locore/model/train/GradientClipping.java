package org.locore.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * Global L2 gradient-norm clipping as PyTorch's {@code clip_grad_norm_}: the norm over all gradients together;
 * when it exceeds {@code maxNorm} every gradient is scaled by {@code maxNorm / (norm + 1e-6)}.
 */
public final class GradientClipping {
    private GradientClipping() {
    }

    /** The global L2 norm of all gradients (accumulated in double). */
    public static double globalNorm(Map<String, INDArray> gradients) {
        double sq = 0;
        for (INDArray g : gradients.values()) {
            double n = g.norm2Number().doubleValue();
            sq += n * n;
        }
        return Math.sqrt(sq);
    }

    /**
     * Clips in place.
     *
     * @param maxNorm the largest norm allowed; 0 or less (or infinite) disables clipping
     * @return the norm before clipping
     */
    public static double clip(Map<String, INDArray> gradients, double maxNorm) {
        double norm = globalNorm(gradients);
        if (maxNorm > 0 && Double.isFinite(maxNorm)) {
            double coef = maxNorm / (norm + 1e-6);
            if (coef < 1) {
                for (INDArray g : gradients.values()) g.muli(coef);
            }
        }
        return norm;
    }
}
