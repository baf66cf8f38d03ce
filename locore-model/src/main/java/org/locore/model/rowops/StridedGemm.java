package org.locore.model.rowops;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Single-precision GEMM on sub-matrices of whole row-major float arrays, given by an element offset and a leading
 * dimension, through the same {@code cblas_sgemm} that ND4J calls (OpenBLAS's or MKL's, {@link BlasLibrary}): lets
 * the eager executors multiply one head's columns of a fused projection (stride {@code 5E}) or one block of rows in
 * place, without the copies that ND4J's {@code gemm} makes of strided views and without its per-call bookkeeping.
 * The library's thread count is ND4J's ({@link Workers#jobs} sets it to one inside parallel jobs). Bounds are checked
 * against the arrays' lengths.
 */
public final class StridedGemm {
    private static final int ROW_MAJOR = 101;
    private static final int NO_TRANS = 111;
    private static final int TRANS = 112;

    private StridedGemm() {
    }

    /**
     * {@code C = alpha op(A) op(B) + beta C} with {@code op(A)} {@code [m, k]}, {@code op(B)} {@code [k, n]},
     * {@code C} {@code [m, n]}, all row-major inside the buffers of {@code a}, {@code b}, {@code c} (whole c-order
     * float arrays) from the given element offsets with the given leading dimensions; {@code transA} means A is
     * stored {@code [k, m]} (likewise B {@code [n, k]}).
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             INDArray a, long aOff, int lda, INDArray b, long bOff, int ldb,
                             float beta, INDArray c, long cOff, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        check("A", a, aOff, transA ? k : m, transA ? m : k, lda);
        check("B", b, bOff, transB ? n : k, transB ? k : n, ldb);
        check("C", c, cOff, m, n, ldc);
        if (k == 0) {
            throw new IllegalArgumentException("sgemm with k = 0");
        }
        openblas_nolapack.cblas_sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha,
                pointer(a, aOff), lda, pointer(b, bOff), ldb, beta, pointer(c, cOff), ldc);
    }

    private static FloatPointer pointer(INDArray a, long off) {
        FloatPointer p = new FloatPointer(a.data().addressPointer());
        return p.position(p.position() + off);
    }

    private static void check(String what, INDArray a, long off, int rows, int cols, int ld) {
        if (a.dataType() != DataType.FLOAT || a.ordering() != 'c' || a.offset() != 0
                || a.data().length() != a.length()) {
            throw new IllegalArgumentException(what + ": expected a whole c-order float array, got "
                    + a.dataType() + " " + a.ordering() + " offset " + a.offset());
        }
        if (cols > ld || off < 0 || (rows > 0 && off + (long) (rows - 1) * ld + cols > a.length())) {
            throw new IllegalArgumentException(what + ": [" + rows + ", " + cols + "] at offset " + off
                    + " with leading dimension " + ld + " exceeds an array of " + a.length() + " floats");
        }
    }
}
