package org.locore.apps.demo;

import org.locore.data.groundtruth.Protocol;
import org.locore.model.locore.Fusion;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The LOCORE stages of the demo: training, alpha/temperature grid search and sliding re-ranking on the synthetic
 * benchmark's files ({@link BenchmarkFiles}). {@link LocoreDemoStages} runs them with the project's {@code train},
 * {@code gridsearch} and {@code rerank} commands; {@link DemoCommand} uses it unless given another implementation.
 */
public interface LocoreStages {
    /**
     * Trains a small LOCORE on the training split ({@code files.train()}: local/global features, image list with
     * landmark labels, shortlist with self removed) for about {@code seconds} of CPU time.
     *
     * @param files    the benchmark
     * @param modelDir where to write the model ({@code model.safetensors} and its config)
     * @param seed     the demo's seed
     * @param seconds  time budget
     * @return the trained weights file
     */
    Path train(BenchmarkFiles files, Path modelDir, long seed, double seconds) throws IOException;

    /**
     * Grid-searches alpha and temperature of the fusion on the validation split ({@code files.val()}, GLDv2-style
     * ground truth: mAP@100).
     *
     * @return the best fusion
     */
    Fusion gridSearch(BenchmarkFiles files, Path model) throws IOException;

    /**
     * Sliding-window re-ranking of the test queries ({@code files.test()}, shortlist against gallery and
     * distractors), each shortlist first reordered for the protocol (SPEC 7).
     *
     * @return one ranking (gallery ids) per test query
     */
    int[][] rerank(BenchmarkFiles files, Path model, Fusion fusion, Protocol protocol) throws IOException;
}
