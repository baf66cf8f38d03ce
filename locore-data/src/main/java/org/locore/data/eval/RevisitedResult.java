package org.locore.data.eval;

import org.locore.data.groundtruth.Protocol;

/**
 * The metrics of one Revisited Oxford/Paris evaluation: Easy, Medium and Hard, each a {@link ProtocolResult}
 * with values in [0, 1].
 *
 * @param easy   Easy protocol (positives easy; junk and hard ignored)
 * @param medium Medium protocol (positives easy and hard; junk ignored)
 * @param hard   Hard protocol (positives hard; junk and easy ignored)
 */
public record RevisitedResult(ProtocolResult easy, ProtocolResult medium, ProtocolResult hard) {

    /** The result of one protocol. */
    public ProtocolResult get(Protocol p) {
        return switch (p) {
            case EASY -> easy;
            case MEDIUM -> medium;
            case HARD -> hard;
        };
    }
}
