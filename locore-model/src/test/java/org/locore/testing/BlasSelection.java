package org.locore.testing;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import org.locore.model.rowops.BlasLibrary;

/**
 * Selects the BLAS library ({@link BlasLibrary#select()}) when the JUnit session opens, before any test touches
 * ND4J, so that the tests run on the library that {@code bin/locore} would pick on this machine (MKL on an Intel
 * CPU; {@code -Dlocore.blas=openblas} for OpenBLAS, as the second surefire execution does).
 */
public final class BlasSelection implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        BlasLibrary.select();
    }
}
