package dataset

import (
	"bufio"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/replay/internal/parquetio"
)

// open creates the source's temporary file and starts its Parquet writer.
func (o *sourceOut) open() error {
	d, ok := o.commDict.(*array.String)
	if !ok {
		return fmt.Errorf("%s: comm dictionary of %s, want utf8", o.rel, o.commDict.DataType())
	}
	f, err := o.tx.create(o.rel)
	if err != nil {
		return err
	}
	o.file = f
	o.sc = scratchPool.Get().(*writeScratch)
	if o.sc.bw == nil {
		o.sc.bw = bufio.NewWriterSize(f, 1<<20)
	}
	o.sc.bw.Reset(f)
	o.bw = o.sc.bw
	o.commVals, o.commMap = commDictionary(d)
	if o.pc, err = parquetio.NewColumns(o.schema, o.bw, ZstdLevel, parquetLayout); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", o.rel, err)
	}
	return nil
}

// close writes the footer and closes the file (flushed to disk first
// when the commit syncs).
func (o *sourceOut) close() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet: %v", r)
		}
		if err != nil {
			o.file.Close()
		}
	}()
	if err := o.pc.Close(); err != nil {
		return err
	}
	if err := o.bw.Flush(); err != nil {
		return err
	}
	o.sc.bw.Reset(nil)
	scratchPool.Put(o.sc)
	o.sc, o.bw = nil, nil
	return o.tx.close(o.file)
}

// writeGroup writes g as one row group, column by column.
func (o *sourceOut) writeGroup(g *rowGroup) (err error) {
	// arrow's metadata builders report some failures by panicking.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet: %v", r)
		}
		if err == nil {
			// A failed write of the file shows on the next write only.
			err = o.bw.Flush()
		}
	}()
	o.pc.StartRowGroup(g.n)
	for k, sp := range o.specs {
		if err := o.writeColumn(sp, &g.cols[k], g); err != nil {
			return fmt.Errorf("column %s: %w", o.schema.Field(k).Name, err)
		}
	}
	return o.pc.EndRowGroup()
}
