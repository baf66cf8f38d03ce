package org.locore.data.groundtruth;

import org.junit.jupiter.api.Test;
import org.locore.testing.Fixtures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

class ProtocolTest {
    @Test
    void positivesAndIgnoredFollowTheRevisitedProtocols() {
        GroundTruth.Query q = new GroundTruth.Query(null, new int[]{5, 1}, new int[]{3, 1}, new int[]{9, 2}, new int[0]);
        assertArrayEquals(new int[]{1, 5}, Protocol.EASY.positives(q));
        assertArrayEquals(new int[]{1, 2, 3, 9}, Protocol.EASY.ignored(q));
        assertArrayEquals(new int[]{1, 3, 5}, Protocol.MEDIUM.positives(q));
        assertArrayEquals(new int[]{2, 9}, Protocol.MEDIUM.ignored(q));
        assertArrayEquals(new int[]{1, 3}, Protocol.HARD.positives(q));
        assertArrayEquals(new int[]{1, 2, 5, 9}, Protocol.HARD.ignored(q));
        Fixtures.path("revisitop/gnd_roxford5k.pkl");
    }
}
