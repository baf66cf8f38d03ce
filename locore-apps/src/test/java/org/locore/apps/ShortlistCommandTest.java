package org.locore.apps;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** {@code locore shortlist} against brute force. */
class ShortlistCommandTest {
    @TempDir
    Path tmp;

    private static float[] random(Random rnd, int n, int d) {
        float[] a = new float[n * d];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    private static void checkBruteForce(Shortlist s, float[] q, int nq, float[] g, int ng, int d, int m, boolean excludeSelf) {
        assertEquals(nq, s.numQueries());
        assertEquals(m, s.length());
        for (int i = 0; i < nq; i++) {
            final int qi = i;
            double[] score = new double[ng];
            for (int j = 0; j < ng; j++) {
                float dot = 0;
                for (int k = 0; k < d; k++) dot += q[i * d + k] * g[j * d + k];
                score[j] = dot;
            }
            int[] expected = IntStream.range(0, ng).filter(j -> !excludeSelf || j != qi).boxed()
                    .sorted(Comparator.comparingDouble((Integer j) -> -score[j]).thenComparingInt(j -> j))
                    .mapToInt(Integer::intValue).limit(m).toArray();
            assertArrayEquals(expected, s.ids(i), "query " + i);
            for (int r = 0; r < m; r++) assertEquals(score[expected[r]], s.similarity(i, r), 1e-4);
            if (excludeSelf) assertFalse(IntStream.of(s.ids(i)).anyMatch(j -> j == qi));
        }
    }

    @Test
    void equalsBruteForceAndWritesAReadablePickle() throws Exception {
        Random rnd = new Random(11);
        int d = 16, nq = 12, ng = 300, m = 25;
        float[] q = random(rnd, nq, d);
        float[] g = random(rnd, ng, d);
        Path qf = tmp.resolve("q_global.pt");
        Path gf = tmp.resolve("g_global.pt");
        GlobalDescriptors.write(qf, q, d);
        GlobalDescriptors.write(gf, g, d);
        Path out = tmp.resolve("nn.pkl");
        CommandRunner.Run r = CommandRunner.run("shortlist", "--queries", qf.toString(), "--gallery", gf.toString(),
                "--dim", "16", "--top", "25", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(ShortlistFile.Format.NUMPY_PICKLE, ShortlistFile.detect(out));
        checkBruteForce(ShortlistFile.read(out), q, nq, g, ng, d, m, false);

        // the gallery as its own query set, self excluded
        Path self = tmp.resolve("nn_self.pkl");
        r = CommandRunner.run("shortlist", "--queries", gf.toString(), "--gallery", gf.toString(), "--dim", "16",
                "--top", "5", "--exclude-self", "--out", self.toString());
        assertEquals(0, r.code(), r.err());
        checkBruteForce(ShortlistFile.read(self), g, ng, g, ng, d, 5, true);
    }

    @Test
    void wrongDimensionIsReported() throws Exception {
        Path gf = tmp.resolve("g.pt");
        GlobalDescriptors.write(gf, new float[30], 10);
        CommandRunner.Run r = CommandRunner.run("shortlist", "--queries", gf.toString(), "--gallery", gf.toString(),
                "--dim", "7", "--out", tmp.resolve("nn.pkl").toString());
        assertEquals(2, r.code());
        assertFalse(r.err().isEmpty());
        assertEquals(true, r.err().startsWith("error: "), r.err());
        assertFalse(Arrays.asList(tmp.toFile().list()).contains("nn.pkl"));
    }
}
