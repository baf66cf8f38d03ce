package org.locore.model.vit;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Seconds per image of DINOv2 ViT-B/14-reg (random weights: width 768, depth 12, 12 heads, 4 registers) plus the
 * AMES detector on a 770x574 input (55x41 patches), on the ND4J CPU backend, and the process's peak resident
 * memory. Prints one line for BENCHMARKS-vit.md.
 *
 * <p>Run: {@code mvn -B -o -q -pl locore-model test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * && java -cp locore-model/target/test-classes:locore-model/target/classes:$(cat locore-model/target/cp.txt)
 * org.locore.model.vit.VitBenchmark [runs]}
 */
public final class VitBenchmark {
    private VitBenchmark() {
    }

    /** @param args optional number of timed runs (default 3), after one warm-up run */
    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        long t0 = System.nanoTime();
        Dinov2Vit vit = Dinov2Vit.random(VitConfig.vitB14Reg4(), 1);
        AmesDetector det = AmesDetector.random(768, 2);
        double buildS = (System.nanoTime() - t0) / 1e9;
        INDArray image = Nd4j.randn(DataType.FLOAT, 1, 3, 574, 770);
        double first = once(vit, det, image);
        double best = Double.MAX_VALUE;
        double total = 0;
        for (int i = 0; i < runs; i++) {
            double s = once(vit, det, image);
            best = Math.min(best, s);
            total += s;
        }
        System.out.printf("ViT-B/14-reg4 + AMES detector, 770x574 (2255 patches), ND4J CPU, %d threads: "
                        + "build %.1f s, first %.2f s, mean %.2f s/image over %d runs (best %.2f s), peak RSS %s, heap max %d MiB%n",
                Runtime.getRuntime().availableProcessors(), buildS, first, total / runs, runs, best, peakRss(),
                Runtime.getRuntime().maxMemory() >> 20);
    }

    private static double once(Dinov2Vit vit, AmesDetector det, INDArray image) {
        long t = System.nanoTime();
        Dinov2Vit.Output o = vit.forward(image);
        DetectorOutput d = det.detect(o.patchTokens());
        d.topK(100);
        d.globalDescriptor();
        return (System.nanoTime() - t) / 1e9;
    }

    private static String peakRss() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                return (kb >> 10) + " MiB";
            }
        }
        return "n/a";
    }
}
