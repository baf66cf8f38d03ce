package org.locore.model.vit;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * The detector's view of one image: an L2-normalised descriptor and a weight for every patch token, with the
 * AMES selections made from them (top-K by weight, weighted global descriptor).
 *
 * @param descriptors {@code [N, D]} L2-normalised descriptors, in token order
 * @param weights     {@code N} softplus weights
 */
public record DetectorOutput(INDArray descriptors, float[] weights) {

    /** The strongest tokens, in descending weight order. */
    public record TopK(int[] ids, float[] weights, INDArray descriptors) {
        /**
         * @param ids         token indices (row-major over the patch grid)
         * @param weights     their weights, descending
         * @param descriptors {@code [k, D]} their descriptors
         */
        public TopK {
        }
    }

    /** Number of tokens. */
    public int size() {
        return weights.length;
    }

    /**
     * The {@code min(N, k)} tokens with the largest weights, in descending weight order (ties keep the lower
     * index first).
     */
    public TopK topK(int k) {
        int n = Math.min(k, weights.length);
        int[] ids = IntStream.range(0, weights.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -weights[i]).thenComparingInt(i -> i))
                .limit(n).mapToInt(Integer::intValue).toArray();
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = weights[ids[i]];
        }
        INDArray d = n == 0 ? Nd4j.create(org.nd4j.linalg.api.buffer.DataType.FLOAT, 0, descriptors.size(1))
                : descriptors.getRows(ids).dup('c');
        return new TopK(ids, w, d);
    }

    /**
     * The global descriptor: the L2-normalised mean over all tokens of {@code weight * descriptor} (accumulated
     * in double).
     */
    public float[] globalDescriptor() {
        int n = weights.length;
        int dim = (int) descriptors.size(1);
        float[] flat = descriptors.dup('c').reshape(-1).toFloatVector();
        double[] sum = new double[dim];
        for (int i = 0; i < n; i++) {
            double w = weights[i];
            for (int j = 0; j < dim; j++) {
                sum[j] += w * flat[i * dim + j];
            }
        }
        for (int j = 0; j < dim; j++) {
            sum[j] /= n;
        }
        return l2normalize(sum);
    }

    /** {@code v / max(||v||, 1e-12)} as float (PyTorch {@code F.normalize}). */
    static float[] l2normalize(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        double norm = Math.max(Math.sqrt(s), 1e-12);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] / norm);
        }
        return out;
    }

    @Override
    public String toString() {
        return "DetectorOutput[" + weights.length + " tokens, max weight "
                + (weights.length == 0 ? "-" : String.valueOf(max(weights))) + "]";
    }

    private static float max(float[] a) {
        float m = Float.NEGATIVE_INFINITY;
        for (float x : a) {
            m = Math.max(m, x);
        }
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DetectorOutput other && descriptors.equals(other.descriptors)
                && Arrays.equals(weights, other.weights);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(weights);
    }
}
