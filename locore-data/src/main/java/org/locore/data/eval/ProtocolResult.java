package org.locore.data.eval;

import org.locore.data.groundtruth.Protocol;

/**
 * The Revisited Oxford/Paris metrics of one protocol, as fractions in [0, 1] (the benchmark code prints them
 * multiplied by 100; our JSON output keeps [0, 1]).
 *
 * @param protocol    the protocol evaluated
 * @param map         mean average precision over the queries that have at least one positive
 * @param mpAt1       mean precision at 1 (with the benchmark's {@code min(k, last positive rank)} quirk)
 * @param mpAt5       mean precision at 5
 * @param mpAt10      mean precision at 10
 * @param aps         per-query average precision, {@code NaN} for queries excluded because they have no positive
 * @param numEvaluated number of queries in the means (queries with at least one positive)
 */
public record ProtocolResult(Protocol protocol, double map, double mpAt1, double mpAt5, double mpAt10, double[] aps,
                             int numEvaluated) {

    /** Number of queries excluded from the means because they have no positive under this protocol. */
    public int numExcluded() {
        return aps.length - numEvaluated;
    }

    /** Whether query {@code q} was excluded (no positive under this protocol). */
    public boolean excluded(int q) {
        return Double.isNaN(aps[q]);
    }
}
