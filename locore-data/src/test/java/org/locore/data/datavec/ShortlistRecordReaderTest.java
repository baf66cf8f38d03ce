package org.locore.data.datavec;

import org.datavec.api.records.Record;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.batch.NDArrayRecordBatch;
import org.junit.jupiter.api.Test;
import org.locore.data.shortlist.Shortlist;
import org.locore.data.shortlist.ShortlistFile;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ShortlistRecordReaderTest {
    @Test
    void streamsAQueryRangeTopM() throws IOException {
        Path f = Fixtures.path("pickles/nn_torch.pkl");
        Shortlist s = ShortlistFile.read(f);
        ShortlistRecordReader r = new ShortlistRecordReader(s, f.toUri(), 1, 3, 4);
        List<INDArray> a = ((NDArrayRecordBatch) r.next(5)).getArrays();
        assertFalse(r.hasNext());
        assertArrayEquals(new int[]{1, 2}, a.get(ShortlistRecordReader.QUERY).toIntVector());
        assertArrayEquals(new long[]{2, 4}, a.get(ShortlistRecordReader.IDS).shape());
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 4; j++) {
                assertEquals(s.id(1 + i, j), a.get(ShortlistRecordReader.IDS).getLong(i, j));
                assertEquals(s.similarity(1 + i, j), a.get(ShortlistRecordReader.SIMILARITIES).getDouble(i, j));
            }
        }
        // values from pickles.json: query 1 starts with gallery 21 at 0.9510205984115601
        assertEquals(21, a.get(ShortlistRecordReader.IDS).getLong(0, 0));
        assertEquals(0.9510205984115601, a.get(ShortlistRecordReader.SIMILARITIES).getDouble(0, 0));
        r.reset();
        Record rec = r.nextRecord();
        assertEquals(1, rec.getRecord().get(ShortlistRecordReader.QUERY).toInt());
        assertEquals(41, ((NDArrayWritable) rec.getRecord().get(ShortlistRecordReader.IDS)).get().getLong(1));
        assertEquals(rec.getRecord(), r.loadFromMetaData(rec.getMetaData()).getRecord());
        assertThrows(IllegalArgumentException.class, () -> new ShortlistRecordReader(s, f.toUri(), 0, 4, 4));
        assertThrows(IllegalArgumentException.class, () -> new ShortlistRecordReader(s, f.toUri(), 0, 3, 11));
    }
}
