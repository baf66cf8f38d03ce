package org.locore.data.eval;

/**
 * GLDv2 retrieval metrics (mAP@100), as fractions in [0, 1] (the GLDv2/AMES code prints them times 100).
 *
 * @param publicMap    mAP@100 over the public split (all queries but the last {@value Gldv2Evaluator#PRIVATE_QUERIES})
 * @param privateMap   mAP@100 over the private split (the last {@value Gldv2Evaluator#PRIVATE_QUERIES} queries)
 * @param map          mAP@100 over all queries
 * @param aps          per-query AP@100, {@code NaN} for queries without positives (excluded from every mean)
 * @param numEvaluated number of queries with at least one positive
 */
public record Gldv2Result(double publicMap, double privateMap, double map, double[] aps, int numEvaluated) {
}
