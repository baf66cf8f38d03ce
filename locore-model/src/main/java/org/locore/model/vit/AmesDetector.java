package org.locore.model.vit;

import org.locore.model.io.FormatException;
import org.locore.model.io.Tensor;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * The AMES local-feature detector ({@code SpatialAttention2d}), applied per token: a 1x1 convolution, BatchNorm
 * with running statistics (eps 1e-5), the L2-normalised result as the descriptor ({@code y / max(||y||, 1e-15)}),
 * and {@code softplus(conv2(relu(y)))} (threshold 20) as the token's weight. {@link #detect(INDArray)} computes it
 * eagerly (one GEMM, then one pass over the rows in Java); the SameDiff graph ({@link VitForwardPath#GRAPH}) is
 * kept as the reference.
 *
 * <p>Tensor names are those of {@code dinov2_detector.pt}'s {@code state} dict: {@code conv1.{weight,bias}},
 * {@code bn.{weight,bias,running_mean,running_var}} ({@code num_batches_tracked} is ignored),
 * {@code conv2.{weight,bias}}.
 */
public final class AmesDetector {
    /** BatchNorm epsilon of the reference module. */
    public static final double BN_EPS = 1e-5;
    /** Lower bound on the norm when normalising descriptors. */
    public static final double NORM_EPS = 1e-15;
    private static final String IN_TOKENS = "tokens";
    private static final String OUT_DESC = "descriptors";
    private static final String OUT_WEIGHT = "weights";

    private final int width;
    private final SameDiff sd;
    /** Eager path: conv1 as {@code [in, out]}, and per channel the bias, BN shift and factor, conv2 weights. */
    private final INDArray w1t;
    private final float[] b1;
    private final float[] mean;
    private final float[] factor;
    private final float[] beta;
    private final float[] w2;
    private final float b2;

    private AmesDetector(int c, float[] w1, float[] b1, float[] gamma, float[] beta, float[] mean, float[] var,
                         float[] w2, float b2) {
        this.width = c;
        this.w1t = Dinov2Vit.transposed(w1, c, c);
        this.b1 = b1;
        this.mean = mean;
        this.factor = bnFactor(gamma, var);
        this.beta = beta;
        this.w2 = w2;
        this.b2 = b2;
        this.sd = build(c, w1t, b1, factor, beta, mean, w2, b2);
    }

    /** BatchNorm's {@code gamma / sqrt(var + eps)}, computed in double. */
    private static float[] bnFactor(float[] gamma, float[] var) {
        float[] factor = new float[gamma.length];
        for (int i = 0; i < factor.length; i++) {
            factor[i] = (float) (gamma[i] / Math.sqrt((double) var[i] + BN_EPS));
        }
        return factor;
    }

    /**
     * Builds the detector from its state dict (the {@code state} entry of {@code dinov2_detector.pt}).
     *
     * @param stateDict name to tensor
     * @param source    the checkpoint file, for error messages (may be null)
     * @throws FormatException when a tensor is missing or has the wrong shape
     */
    public static AmesDetector fromStateDict(Map<String, Tensor> stateDict, Path source) throws FormatException {
        CheckpointWeights w = new CheckpointWeights(stateDict, source);
        int c = (int) w.dim("conv1.weight", 4, 0);
        float[] w1 = w.floats("conv1.weight", c, c, 1, 1);
        float[] b1 = w.floats("conv1.bias", c);
        float[] gamma = w.floats("bn.weight", c);
        float[] beta = w.floats("bn.bias", c);
        float[] mean = w.floats("bn.running_mean", c);
        float[] var = w.floats("bn.running_var", c);
        float[] w2 = w.floats("conv2.weight", 1, c, 1, 1);
        float[] b2 = w.floats("conv2.bias", 1);
        return new AmesDetector(c, w1, b1, gamma, beta, mean, var, w2, b2[0]);
    }

    /** A detector with seeded random weights (for benchmarks and smoke tests). */
    public static AmesDetector random(int width, long seed) {
        Random r = new Random(seed);
        float[] w1 = new float[width * width];
        for (int i = 0; i < w1.length; i++) {
            w1[i] = (float) (r.nextGaussian() / Math.sqrt(width));
        }
        float[] zeros = new float[width];
        float[] ones = new float[width];
        Arrays.fill(ones, 1f);
        float[] w2 = new float[width];
        for (int i = 0; i < width; i++) {
            w2[i] = (float) (r.nextGaussian() / Math.sqrt(width));
        }
        return new AmesDetector(width, w1, zeros, ones, zeros, zeros, ones, w2, 0f);
    }

    /** Token width the detector expects. */
    public int width() {
        return width;
    }

    /** The SameDiff graph (placeholder {@code tokens [N, width]}; outputs {@code descriptors}, {@code weights}). */
    public SameDiff graph() {
        return sd;
    }

    /**
     * Describes every patch token (eagerly).
     *
     * @param patchTokens {@code [N, width]} or {@code [1, N, width]} ({@link Dinov2Vit.Output#patchTokens()})
     * @return descriptors and weights of all N tokens, in token order
     */
    public DetectorOutput detect(INDArray patchTokens) {
        return detect(patchTokens, VitForwardPath.EAGER);
    }

    /**
     * Describes every patch token.
     *
     * @param patchTokens {@code [N, width]} or {@code [1, N, width]} ({@link Dinov2Vit.Output#patchTokens()})
     * @param path        eager (one GEMM and a pass over the rows) or the SameDiff graph (same values)
     * @return descriptors and weights of all N tokens, in token order
     */
    public DetectorOutput detect(INDArray patchTokens, VitForwardPath path) {
        INDArray t = patchTokens.rank() == 3 && patchTokens.size(0) == 1
                ? patchTokens.reshape(patchTokens.size(1), patchTokens.size(2)) : patchTokens;
        if (t.rank() != 2 || t.size(1) != width) {
            throw new IllegalArgumentException("expected [N, " + width + "] tokens, got " + Arrays.toString(patchTokens.shape()));
        }
        if (path == VitForwardPath.GRAPH) {
            Map<String, INDArray> out = sd.output(Map.of(IN_TOKENS, t.castTo(DataType.FLOAT)), OUT_DESC, OUT_WEIGHT);
            INDArray desc = out.get(OUT_DESC);
            float[] weights = out.get(OUT_WEIGHT).reshape(-1).toFloatVector();
            return new DetectorOutput(desc, weights);
        }
        int n = (int) t.size(0);
        int c = width;
        INDArray y = Nd4j.create(DataType.FLOAT, n, c);
        Nd4j.gemm(t.dataType() == DataType.FLOAT ? t : t.castTo(DataType.FLOAT), w1t, y, false, false, 1.0, 0.0);
        java.nio.FloatBuffer yf = y.data().asNioFloat();
        float[] row = new float[c];
        float[] weights = new float[n];
        for (int r = 0; r < n; r++) {
            yf.get(r * c, row, 0, c);
            double sq = 0;
            double z = b2;
            for (int i = 0; i < c; i++) {
                float v = (row[i] + b1[i] - mean[i]) * factor[i] + beta[i];
                row[i] = v;
                sq += (double) v * v;
                z += v > 0 ? (double) v * w2[i] : 0.0;
            }
            float norm = (float) Math.max(Math.sqrt(sq), NORM_EPS);
            for (int i = 0; i < c; i++) {
                row[i] /= norm;
            }
            yf.put(r * c, row, 0, c);
            // softplus(z) = max(z, 0) + log1p(exp(-|z|))
            weights[r] = (float) (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))));
        }
        return new DetectorOutput(y, weights);
    }

    /** The L2-normalised CLS token ({@code [1, width]} or {@code [width]}), the "cls" global descriptor. */
    public static float[] clsGlobal(INDArray cls) {
        return DetectorOutput.l2normalize(cls.reshape(-1).toDoubleVector());
    }

    private static SameDiff build(int c, INDArray w1t, float[] b1, float[] factor, float[] beta, float[] mean,
                                  float[] w2, float b2) {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder(IN_TOKENS, DataType.FLOAT, -1, c);
        SDVariable y = sd.mmul(x, sd.constant("conv1.weight", w1t))
                .add(sd.constant("conv1.bias", Dinov2Vit.row(b1)));
        // BatchNorm in inference mode: (y - mean) / sqrt(var + eps) * gamma + beta, the factor computed in double
        y = y.sub(sd.constant("bn.running_mean", Dinov2Vit.row(mean))).mul(sd.constant("bn.factor", Dinov2Vit.row(factor)))
                .add(sd.constant("bn.bias", Dinov2Vit.row(beta)));
        SDVariable norm = sd.math.sqrt(y.mul(y).sum(true, 1));
        SDVariable desc = y.div(sd.math.max(norm, sd.constant("norm_eps", Nd4j.scalar(DataType.FLOAT, (float) NORM_EPS))));
        sd.identity(OUT_DESC, desc);
        SDVariable z = sd.mmul(sd.nn.relu(y, 0.0), sd.constant("conv2.weight", Nd4j.createFromArray(w2).reshape(c, 1)))
                .add(b2);
        // softplus(z) = max(z, 0) + log1p(exp(-|z|)); equals z in float32 beyond the reference's threshold of 20
        SDVariable weight = sd.nn.relu(z, 0.0).add(sd.math.log1p(sd.math.exp(sd.math.abs(z).neg())));
        sd.identity(OUT_WEIGHT, weight);
        return sd;
    }
}
