package org.locore.data.datavec;

import org.datavec.api.conf.Configuration;
import org.datavec.api.records.Record;
import org.datavec.api.records.metadata.RecordMetaData;
import org.datavec.api.records.reader.BaseRecordReader;
import org.datavec.api.split.InputSplit;
import org.datavec.api.writable.Writable;

import java.io.DataInputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The DataVec plumbing shared by the project's record readers: they are built over already opened files (no
 * input split), read in batches of arrays, can be reset, and have no labels.
 */
abstract class ArrayRecordReader extends BaseRecordReader {
    private Configuration conf = new Configuration();

    @Override
    public void initialize(InputSplit split) {
        // the files are given to the constructor
    }

    @Override
    public void initialize(Configuration conf, InputSplit split) {
        this.conf = conf;
    }

    @Override
    public boolean batchesSupported() {
        return true;
    }

    @Override
    public List<Writable> next() {
        return nextRecord().getRecord();
    }

    @Override
    public List<Record> loadFromMetaData(List<RecordMetaData> metas) throws java.io.IOException {
        List<Record> out = new ArrayList<>(metas.size());
        for (RecordMetaData m : metas) out.add(loadFromMetaData(m));
        return out;
    }

    @Override
    public List<String> getLabels() {
        return Collections.emptyList();
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    @Override
    public List<Writable> record(URI uri, DataInputStream dataInputStream) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " reads opened files, not streams");
    }

    @Override
    public void close() {
        // the caller owns the files
    }

    @Override
    public void setConf(Configuration conf) {
        this.conf = conf;
    }

    @Override
    public Configuration getConf() {
        return conf;
    }
}
