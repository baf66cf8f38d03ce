package org.locore.model.locore;

/**
 * Mixes the shortlist similarity g with the re-ranker logit z: {@code alpha * g + (1 - alpha) * sigmoid(temp * z)}.
 *
 * @param alpha       weight of the shortlist similarity (0.5 released)
 * @param temperature logit scale (0.1 released)
 */
public record Fusion(double alpha, double temperature) {
    /** The released recipe: alpha 0.5, temperature 0.1. */
    public static Fusion released() {
        return new Fusion(0.5, 0.1);
    }

    /** The fused score. */
    public double fuse(double similarity, double logit) {
        return alpha * similarity + (1 - alpha) / (1 + Math.exp(-temperature * logit));
    }
}
