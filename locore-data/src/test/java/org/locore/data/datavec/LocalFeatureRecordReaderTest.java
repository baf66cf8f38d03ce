package org.locore.data.datavec;

import org.datavec.api.records.Record;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.Writable;
import org.datavec.api.writable.batch.NDArrayRecordBatch;
import org.junit.jupiter.api.Test;
import org.locore.data.features.GlobalDescriptors;
import org.locore.data.features.LocalFeatures;
import org.locore.model.io.Tensor;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocalFeatureRecordReaderTest {
    private static final int N = 7, K = 20, D = 16, W = 5 + D;

    @Test
    void streamsBatchesInAnyOrderWithExpectedValues() throws IOException {
        float[] local = Fixtures.tensor("hdf5/expected.safetensors", "local").toFloatArray();
        float[] global = Fixtures.tensor("hdf5/expected.safetensors", "global").toFloatArray();
        int rows = 6;
        int[] order = {6, 2, 0, 5, 1, 3, 4};
        for (String layout : List.of("contiguous", "chunked", "virtual")) {
            try (LocalFeatures lf = LocalFeatures.open(Fixtures.path("hdf5/local_" + layout + ".hdf5"));
                 GlobalDescriptors g = GlobalDescriptors.open(Fixtures.path("hdf5/global.pt"), D)) {
                LocalFeatureRecordReader r = new LocalFeatureRecordReader(lf, g, rows, order);
                assertTrue(r.batchesSupported());
                int seen = 0;
                int[] sizes = {3, 3, 1};
                for (int batch = 0; r.hasNext(); batch++) {
                    List<List<Writable>> b = r.next(3);
                    assertTrue(b instanceof NDArrayRecordBatch);
                    List<INDArray> arrays = ((NDArrayRecordBatch) b).getArrays();
                    assertEquals(sizes[batch], b.size());
                    assertEquals(5, arrays.size());
                    assertArrayEquals(new long[]{sizes[batch], rows, D}, arrays.get(LocalFeatureRecordReader.DESCRIPTORS).shape());
                    for (int i = 0; i < b.size(); i++) {
                        int image = order[seen + i];
                        assertEquals(image, arrays.get(LocalFeatureRecordReader.INDEX).getInt(i));
                        for (int row = 0; row < rows; row++) {
                            int p = (image * K + row) * W;
                            assertEquals(local[p + 2], arrays.get(LocalFeatureRecordReader.SCALES).getLong(i, row), 0);
                            assertEquals(local[p + 3], arrays.get(LocalFeatureRecordReader.MASK).getLong(i, row), 0);
                            for (int c = 0; c < D; c++) {
                                assertEquals(local[p + 5 + c], arrays.get(LocalFeatureRecordReader.DESCRIPTORS).getFloat(i, row, c), 0f,
                                        layout + " image " + image + " row " + row);
                            }
                        }
                        for (int c = 0; c < D; c++) {
                            assertEquals(global[image * D + c], arrays.get(LocalFeatureRecordReader.GLOBAL).getFloat(i, c), 0f);
                        }
                    }
                    seen += b.size();
                }
                assertEquals(N, seen);
                r.reset();
                // a single record equals the same image of a batch
                Record rec = r.nextRecord();
                assertEquals(order[0], rec.getRecord().get(0).toInt());
                INDArray d = ((NDArrayWritable) rec.getRecord().get(LocalFeatureRecordReader.DESCRIPTORS)).get();
                assertArrayEquals(new long[]{rows, D}, d.shape());
                assertEquals(local[(order[0] * K) * W + 5], d.getFloat(0, 0), 0f);
                Record again = r.loadFromMetaData(rec.getMetaData());
                assertEquals(rec.getRecord(), again.getRecord());
            }
        }
    }

    @Test
    void paddingRowsCarryTheMask() throws IOException {
        Tensor valid = Fixtures.tensor("hdf5/expected.safetensors", "valid_rows");
        long[] v = valid.toLongArray();
        try (LocalFeatures lf = LocalFeatures.open(Fixtures.path("hdf5/local_contiguous.hdf5"))) {
            LocalFeatureRecordReader r = new LocalFeatureRecordReader(lf, null, K, null);
            List<INDArray> a = ((NDArrayRecordBatch) r.next(N)).getArrays();
            assertEquals(4, a.size(), "no global column without a global file");
            for (int i = 0; i < N; i++) {
                for (int row = 0; row < K; row++) {
                    assertEquals(row >= v[i] ? 1 : 0, a.get(LocalFeatureRecordReader.MASK).getLong(i, row), "image " + i + " row " + row);
                }
            }
            assertFalse(r.hasNext());
        }
    }

    @Test
    void badArgumentsNameTheFile() throws IOException {
        try (LocalFeatures lf = LocalFeatures.open(Fixtures.path("hdf5/local_contiguous.hdf5"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new LocalFeatureRecordReader(lf, null, K + 1, null));
            assertTrue(e.getMessage().contains("local_contiguous.hdf5"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new LocalFeatureRecordReader(lf, null, 4, new int[]{0, 7}));
            assertTrue(e.getMessage().contains("image index 7 out of range"), e.getMessage());
        }
    }
}
