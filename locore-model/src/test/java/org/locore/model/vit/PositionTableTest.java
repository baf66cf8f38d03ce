package org.locore.model.vit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.locore.testing.Fixtures;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The antialiased bicubic resize of the position table: hand-derived cases and a cross-check with PyTorch. */
class PositionTableTest {

    @Test
    void sameSizeIsIdentity() {
        double[] g = randomGrid(5 * 7 * 3, 1);
        assertArrayEquals(g, PositionTable.resize(g, 5, 7, 3, 5, 7), 1e-15);
    }

    @Test
    void constantStaysConstantWhenShrinkingAndEnlarging() {
        double[] g = new double[6 * 6];
        java.util.Arrays.fill(g, 2.5);
        for (double v : PositionTable.resize(g, 6, 6, 1, 4, 9)) {
            assertEquals(2.5, v, 1e-12);
        }
    }

    /**
     * 4 -> 2 along one axis: scale 2, support 4, distances (j - 1 + 0.5) / 2 = -0.25, 0.25, 0.75, 1.25 give kernel
     * values 0.8671875, 0.8671875, 0.2265625, -0.0703125 (A = -0.5), sum 1.890625; on [1, 2, 3, 4] that is
     * 3 / 1.890625 and, by symmetry, 5 minus it.
     */
    @Test
    void shrinkByTwoByHand() {
        double[] out = PositionTable.resize(new double[]{1, 2, 3, 4}, 1, 4, 1, 1, 2);
        assertEquals(3.0 / 1.890625, out[0], 1e-15);
        assertEquals(5.0 - 3.0 / 1.890625, out[1], 1e-15);
    }

    @Test
    void matchesTorchInterpolate() throws Exception {
        String py = Fixtures.python("torch", "numpy");
        Assumptions.assumeTrue(py != null, "no Python with torch: skipping the cross-check with F.interpolate");
        int in = 37;
        int dim = 3;
        double[] g = randomGrid(in * in * dim, 7);
        StringBuilder vals = new StringBuilder();
        for (double v : g) {
            vals.append(Double.toString(v)).append(' ');
        }
        String script = "import sys, torch, torch.nn.functional as F\n"
                + "g = torch.tensor([float(v) for v in sys.stdin.read().split()], dtype=torch.float64)\n"
                + "g = g.reshape(1, 37, 37, 3).permute(0, 3, 1, 2)\n"
                + "for oh, ow in [(20, 24), (55, 41), (16, 13), (37, 55)]:\n"
                + "    y = F.interpolate(g, size=(oh, ow), mode='bicubic', antialias=True, align_corners=False)\n"
                + "    print(' '.join(repr(v) for v in y.permute(0, 2, 3, 1).reshape(-1).tolist()))\n";
        Process p = new ProcessBuilder(py, "-c", script).redirectErrorStream(true).start();
        p.getOutputStream().write(vals.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        p.getOutputStream().close();
        String[] lines = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII)
                .trim().split("\n");
        assertEquals(0, p.waitFor(), String.join("\n", lines));
        int[][] sizes = {{20, 24}, {55, 41}, {16, 13}, {37, 55}};
        for (int k = 0; k < sizes.length; k++) {
            String[] tok = lines[k].trim().split(" ");
            double[] expected = new double[tok.length];
            for (int i = 0; i < tok.length; i++) {
                expected[i] = Double.parseDouble(tok[i]);
            }
            double[] actual = PositionTable.resize(g, in, in, dim, sizes[k][0], sizes[k][1]);
            assertArrayEquals(expected, actual, 1e-12, "37x37 -> " + sizes[k][0] + "x" + sizes[k][1]);
        }
    }

    private static double[] randomGrid(int n, long seed) {
        Random r = new Random(seed);
        double[] g = new double[n];
        for (int i = 0; i < n; i++) {
            g[i] = r.nextGaussian();
        }
        return g;
    }
}
