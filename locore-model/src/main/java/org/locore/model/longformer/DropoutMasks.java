package org.locore.model.longformer;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Inverted dropout with masks we build ourselves (the dropout gradients of M2.1 are broken): every dropout site
 * becomes a placeholder multiplied into the graph, fed with {@code Bernoulli(1 - p) / (1 - p)} values per step.
 * When not training, {@link #apply} returns its input unchanged and adds nothing to the graph. The masks are
 * drawn by {@link DropoutBits}, as the eager training pass draws them.
 */
public final class DropoutMasks {
    private record Site(String name, double p, long[] shape) {
    }

    private final boolean training;
    private final DataType dtype;
    private final List<Site> sites = new ArrayList<>();

    /**
     * @param training whether dropout is active
     * @param dtype    floating type of the masks
     */
    public DropoutMasks(boolean training, DataType dtype) {
        this.training = training;
        this.dtype = dtype;
    }

    /** Whether dropout is active. */
    public boolean training() {
        return training;
    }

    /**
     * Applies dropout to {@code x} of the given shape at a site named {@code name} (unique per graph).
     *
     * @param p drop probability; 0 adds nothing
     */
    public SDVariable apply(SDVariable x, String name, double p, long... shape) {
        if (!training || p <= 0) {
            return x;
        }
        SameDiff sd = x.getSameDiff();
        String ph = "dropout/" + name;
        sites.add(new Site(ph, p, shape.clone()));
        return x.mul(sd.placeHolder(ph, dtype, shape));
    }

    /** Draws fresh masks for every site into a feed map, site by site in the order of {@link #apply} calls. */
    public void feed(Map<String, INDArray> feed, Random rnd) {
        for (Site s : sites) {
            long len = 1;
            for (long d : s.shape()) len *= d;
            feed.put(s.name(), DropoutBits.draw(rnd, len, s.p()).array(0, dtype, s.shape()));
        }
    }
}
