package org.locore.data.datavec;

import org.datavec.api.records.Record;
import org.datavec.api.records.metadata.RecordMetaData;
import org.datavec.api.records.metadata.RecordMetaDataIndex;
import org.datavec.api.writable.IntWritable;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.Writable;
import org.datavec.api.writable.batch.NDArrayRecordBatch;
import org.locore.data.shortlist.Shortlist;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A DataVec record reader over the rows of a shortlist for a range of queries: per query
 * {@code [query index, gallery ids [M] long, similarities [M] double]} for its top {@code M} entries.
 * {@link #next(int)} returns an {@link NDArrayRecordBatch} with arrays {@code [b], [b, M], [b, M]}.
 */
public final class ShortlistRecordReader extends ArrayRecordReader {
    /** Position of each column in a record. */
    public static final int QUERY = 0, IDS = 1, SIMILARITIES = 2;

    private final Shortlist shortlist;
    private final URI source;
    private final int from;
    private final int to;
    private final int top;
    private int cursor;

    /**
     * @param shortlist the shortlist
     * @param source    where it was read from (for record metadata), or null
     * @param from      first query (inclusive)
     * @param to        last query (exclusive)
     * @param top       entries per query to stream (at most the shortlist's length)
     */
    public ShortlistRecordReader(Shortlist shortlist, URI source, int from, int to, int top) {
        if (from < 0 || to > shortlist.numQueries() || from > to) {
            throw new IllegalArgumentException((source == null ? "shortlist" : source.toString()) + ": query range ["
                    + from + ", " + to + ") outside [0, " + shortlist.numQueries() + ")");
        }
        if (top < 1 || top > shortlist.length()) {
            throw new IllegalArgumentException((source == null ? "shortlist" : source.toString()) + ": top " + top
                    + " but rows hold " + shortlist.length() + " entries");
        }
        this.shortlist = shortlist;
        this.source = source;
        this.from = from;
        this.to = to;
        this.top = top;
        this.cursor = from;
    }

    /** All queries, all entries. */
    public ShortlistRecordReader(Shortlist shortlist) {
        this(shortlist, null, 0, shortlist.numQueries(), shortlist.length());
    }

    @Override
    public boolean hasNext() {
        return cursor < to;
    }

    @Override
    public List<List<Writable>> next(int num) {
        if (!hasNext()) throw new NoSuchElementException("no more queries");
        int n = Math.min(num, to - cursor);
        List<INDArray> arrays = rows(cursor, n);
        cursor += n;
        return new NDArrayRecordBatch(arrays);
    }

    private List<INDArray> rows(int first, int n) {
        int[] q = new int[n];
        long[] ids = new long[n * top];
        double[] sims = new double[n * top];
        for (int i = 0; i < n; i++) {
            q[i] = first + i;
            for (int j = 0; j < top; j++) {
                ids[i * top + j] = shortlist.id(first + i, j);
                sims[i * top + j] = shortlist.similarity(first + i, j);
            }
        }
        List<INDArray> out = new ArrayList<>(3);
        out.add(Nd4j.createFromArray(q));
        out.add(Nd4j.createFromArray(ids).reshape(n, top));
        out.add(Nd4j.createFromArray(sims).reshape(n, top));
        return out;
    }

    @Override
    public Record nextRecord() {
        if (!hasNext()) throw new NoSuchElementException("no more queries");
        int q = cursor++;
        return new org.datavec.api.records.impl.Record(single(q),
                new RecordMetaDataIndex(q, source, ShortlistRecordReader.class));
    }

    private List<Writable> single(int q) {
        List<INDArray> a = rows(q, 1);
        List<Writable> rec = new ArrayList<>(3);
        rec.add(new IntWritable(q));
        rec.add(new NDArrayWritable(a.get(IDS).reshape(top)));
        rec.add(new NDArrayWritable(a.get(SIMILARITIES).reshape(top)));
        return rec;
    }

    @Override
    public Record loadFromMetaData(RecordMetaData meta) {
        if (!(meta instanceof RecordMetaDataIndex idx) || idx.getIndex() < from || idx.getIndex() >= to) {
            throw new IllegalArgumentException("not a record of this reader: " + meta);
        }
        return new org.datavec.api.records.impl.Record(single((int) idx.getIndex()), meta);
    }

    @Override
    public void reset() {
        cursor = from;
    }

}
