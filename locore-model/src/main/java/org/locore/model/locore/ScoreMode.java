package org.locore.model.locore;

/** Which token's class-1 logit scores a gallery image. */
public enum ScoreMode {
    /** The last local token of the image block (the released recipe). */
    MAX_END,
    /** The image's global token. */
    MAX_START,
    /** The sum over the global token and every local token. */
    MAX_SUM
}
