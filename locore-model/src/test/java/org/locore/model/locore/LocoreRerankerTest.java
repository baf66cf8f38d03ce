package org.locore.model.locore;

import org.junit.jupiter.api.Test;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocoreRerankerTest {
    private static final String IN = "locore/locore_tiny_a.inputs.safetensors";

    /** Sequence b of the tiny fixture as API images. */
    private static LocoreReranker.Image image(float[] local, long[] scales, long[] mask, float[] global, int d, int e, int offRows) {
        float[] l = Arrays.copyOfRange(local, offRows * e, (offRows + d) * e);
        int[] s = new int[d];
        boolean[] p = new boolean[d];
        for (int r = 0; r < d; r++) {
            s[r] = (int) scales[offRows + r];
            p[r] = mask[offRows + r] != 0;
        }
        return new LocoreReranker.Image(Arrays.copyOfRange(global, offRows / d * e, (offRows / d + 1) * e), l, s, p);
    }

    @Test
    void reproducesTheFixtureScoresAndRanksByFusedScore() throws IOException {
        LocoreReranker r = LocoreReranker.load(Fixtures.path("locore/locore_tiny_a.json"),
                Fixtures.path("locore/locore_tiny_a.weights.safetensors")).withFusion(new Fusion(0.3, 0.7));
        int d = 5, k = 7, e = 32;
        float[] ql = Fixtures.tensor(IN, "query_local").toFloatArray();
        long[] qs = Fixtures.tensor(IN, "query_scales").toLongArray();
        long[] qm = Fixtures.tensor(IN, "query_mask").toLongArray();
        float[] qg = Fixtures.tensor(IN, "query_global").toFloatArray();
        float[] gl = Fixtures.tensor(IN, "gallery_local").toFloatArray();
        long[] gs = Fixtures.tensor(IN, "gallery_scales").toLongArray();
        long[] gm = Fixtures.tensor(IN, "gallery_mask").toLongArray();
        float[] gg = Fixtures.tensor(IN, "gallery_global").toFloatArray();
        Tensor expected = Fixtures.tensor("locore/locore_tiny_a.expected.safetensors", "score_max_end");
        float[] exp = expected.toFloatArray();
        for (int b = 0; b < 2; b++) {
            LocoreReranker.Image q = image(ql, qs, qm, qg, d, e, b * d);
            List<LocoreReranker.Image> gallery = new ArrayList<>();
            double[] sims = new double[k];
            for (int i = 0; i < k; i++) {
                gallery.add(image(gl, gs, gm, gg, d, e, (b * k + i) * d));
                sims[i] = 1.0 - 0.1 * i;
            }
            LocoreReranker.Result res = r.rerank(q, gallery, sims);
            for (int i = 0; i < k; i++) {
                assertEquals(exp[b * k + i], res.logits()[i], 1e-4, "logit of gallery image " + i);
                assertEquals(new Fusion(0.3, 0.7).fuse(sims[i], exp[b * k + i]), res.fused()[i], 1e-5);
            }
            for (int i = 1; i < k; i++) {
                assertTrue(res.fused()[res.order()[i - 1]] >= res.fused()[res.order()[i]]);
            }
            assertEquals(k, Arrays.stream(res.order()).distinct().count());
        }
    }

    @Test
    void orderIsStableAndInputsAreChecked() {
        assertArrayEquals(new int[]{1, 0, 2}, LocoreReranker.order(new double[]{0.5, 0.7, 0.5}));
        assertThrows(IllegalArgumentException.class, () -> new LocoreReranker.Image(new float[2], new float[3],
                new int[2], new boolean[2]));
    }
}
