package org.locore.model.train;

import org.locore.model.io.FormatException;
import org.locore.model.io.Safetensors;
import org.locore.model.io.Tensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam with decoupled weight decay, step for step as PyTorch's {@code torch.optim.AdamW}: for each parameter
 * {@code p -= lr * wd * p} first, then {@code m = b1 m + (1 - b1) g}, {@code v = b2 v + (1 - b2) g^2} and
 * {@code p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)}. Moments are float32 arrays kept per
 * parameter name; {@link #save}/{@link #load} store them (and the step count) in a safetensors file, so a run
 * resumes bit-exactly. Not thread-safe.
 */
public final class AdamW {
    /** Tensor-name prefix of the first moments in a saved state. */
    public static final String EXP_AVG = "exp_avg/";
    /** Tensor-name prefix of the second moments in a saved state. */
    public static final String EXP_AVG_SQ = "exp_avg_sq/";

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, INDArray> expAvg = new LinkedHashMap<>();
    private final Map<String, INDArray> expAvgSq = new LinkedHashMap<>();
    private long step;

    /**
     * @param beta1       first-moment decay (0.9)
     * @param beta2       second-moment decay (0.999)
     * @param eps         denominator term (1e-8 in the released recipe)
     * @param weightDecay decoupled weight decay (0 in the released recipe)
     */
    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("betas must lie in [0, 1): " + beta1 + ", " + beta2);
        }
        if (!(eps > 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("eps must be positive and weight decay non-negative: " + eps + ", "
                    + weightDecay);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** Optimizer steps taken so far. */
    public long step() {
        return step;
    }

    /** The weight decay. */
    public double weightDecay() {
        return weightDecay;
    }

    /**
     * One update of every parameter that has a gradient, in place.
     *
     * @param params    the live parameter arrays by name (float32)
     * @param gradients gradients by the same names (parameters without one are left alone)
     * @param lr        the learning rate of this step
     */
    public void update(Map<String, INDArray> params, Map<String, INDArray> gradients, double lr) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / bc1;
        double sqrtBc2 = Math.sqrt(bc2);
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray g = gradients.get(e.getKey());
            if (g == null) continue;
            INDArray p = e.getValue();
            if (g.dataType() != p.dataType()) g = g.castTo(p.dataType());
            INDArray m = expAvg.computeIfAbsent(e.getKey(), k -> Nd4j.zeros(p.dataType(), p.shape()));
            INDArray v = expAvgSq.computeIfAbsent(e.getKey(), k -> Nd4j.zeros(p.dataType(), p.shape()));
            if (weightDecay != 0) p.muli(1 - lr * weightDecay);
            m.muli(beta1).addi(g.mul(1 - beta1));
            v.muli(beta2).addi(g.mul(g).muli(1 - beta2));
            INDArray denom = Transforms.sqrt(v, true).divi(sqrtBc2).addi(eps);
            p.subi(m.div(denom).muli(stepSize));
        }
    }

    /** Saves the moments and step count (with the hyper-parameters as metadata), atomically. */
    public void save(Path file) throws IOException {
        List<Tensor> tensors = new ArrayList<>();
        for (Map.Entry<String, INDArray> e : expAvg.entrySet()) {
            tensors.add(floats(EXP_AVG + e.getKey(), e.getValue()));
            tensors.add(floats(EXP_AVG_SQ + e.getKey(), expAvgSq.get(e.getKey())));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("optimizer", "AdamW");
        meta.put("step", Long.toString(step));
        meta.put("beta1", Double.toString(beta1));
        meta.put("beta2", Double.toString(beta2));
        meta.put("eps", Double.toString(eps));
        meta.put("weight_decay", Double.toString(weightDecay));
        Safetensors.write(file, tensors, meta);
    }

    private static Tensor floats(String name, INDArray a) {
        return Tensor.ofFloats(name, a.shape(), a.castTo(DataType.FLOAT).dup('c').data().asFloat());
    }

    /**
     * Restores the state written by {@link #save} for these parameters (names and shapes must match; a state
     * with no moments yet is accepted). The hyper-parameters stay those of this instance.
     *
     * @throws FormatException naming the file and what does not fit
     */
    public void load(Path file, Map<String, INDArray> params) throws IOException {
        try (Safetensors st = Safetensors.open(file)) {
            String s = st.metadata().get("step");
            if (s == null || !"AdamW".equals(st.metadata().get("optimizer"))) {
                throw new FormatException(file, "not an AdamW state (metadata 'optimizer' and 'step' missing)");
            }
            long savedStep;
            try {
                savedStep = Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw new FormatException(file, "step '" + s + "' is not an integer");
            }
            Map<String, INDArray> m = new LinkedHashMap<>();
            Map<String, INDArray> v = new LinkedHashMap<>();
            for (String name : st.names()) {
                String param;
                Map<String, INDArray> into;
                if (name.startsWith(EXP_AVG_SQ)) {
                    param = name.substring(EXP_AVG_SQ.length());
                    into = v;
                } else if (name.startsWith(EXP_AVG)) {
                    param = name.substring(EXP_AVG.length());
                    into = m;
                } else {
                    throw new FormatException(file, "unexpected tensor " + name);
                }
                INDArray p = params.get(param);
                if (p == null) throw new FormatException(file, "state for unknown parameter " + param);
                INDArray a = st.get(name).toINDArray(p.dataType());
                if (!java.util.Arrays.equals(a.shape(), p.shape())) {
                    throw new FormatException(file, name + " has shape " + java.util.Arrays.toString(a.shape())
                            + ", the parameter " + java.util.Arrays.toString(p.shape()));
                }
                into.put(param, a);
            }
            if (!m.keySet().equals(v.keySet())) {
                throw new FormatException(file, "first and second moments name different parameters");
            }
            expAvg.clear();
            expAvgSq.clear();
            expAvg.putAll(m);
            expAvgSq.putAll(v);
            step = savedStep;
        }
    }
}
