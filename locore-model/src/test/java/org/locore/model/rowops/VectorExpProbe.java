package org.locore.model.rowops;

import jdk.incubator.vector.FloatVector;

/** Applies {@link VectorRowOps#exp} to an array (a separate class: only loaded when the Vector API is enabled). */
final class VectorExpProbe {
    private VectorExpProbe() {
    }

    static float[] exp(float[] x) {
        int l = FloatVector.SPECIES_PREFERRED.length();
        float[] out = new float[x.length];
        for (int i = 0; i + l <= x.length; i += l) {
            VectorRowOps.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, i)).intoArray(out, i);
        }
        return out;
    }
}
