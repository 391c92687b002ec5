package dataset

import (
	"bufio"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/kpcap/kpcap/replay"
)

// open creates the source's temporary file and starts its Parquet writer.
func (o *sourceOut) open() error {
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
	if d, ok := o.commDict.(*array.String); ok && fixedWidth(o.specs) {
		o.commVals, o.commMap = commDictionary(d)
		o.pc, err = replay.NewParquetColumns(o.schema, o.bw, ZstdLevel, ColTime)
	} else {
		o.fw, err = replay.NewParquetFileWriter(o.schema, o.bw, ZstdLevel, ColTime)
	}
	if err != nil {
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
	if o.pc != nil {
		err = o.pc.Close()
	} else {
		err = o.fw.Close()
	}
	if err != nil {
		return err
	}
	if err := o.bw.Flush(); err != nil {
		return err
	}
	clear(o.sc.vals[:cap(o.sc.vals)]) // no references into the row groups
	o.sc.bw.Reset(nil)
	scratchPool.Put(o.sc)
	o.sc, o.bw = nil, nil
	return o.tx.close(o.file)
}

// dictWriter is the part of parquet's dictionary encoder (an internal
// type) that writing dictionary indices directly needs.
type dictWriter interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// writeGroup writes g as one row group, column by column.
func (o *sourceOut) writeGroup(g *rowGroup) (err error) {
	// parquet/file reports some failures by panicking.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet: %v", r)
		}
		if err == nil {
			// A failed write of the file shows on the next write only.
			err = o.bw.Flush()
		}
	}()
	if o.pc != nil {
		return o.writeGroupColumns(g)
	}
	// The scratch buffers take a whole column of the row group.
	o.sc.vals = slices.Grow(o.sc.vals[:0], g.n)
	o.sc.times = slices.Grow(o.sc.times[:0], g.n)
	o.sc.def = slices.Grow(o.sc.def[:0], g.n)
	rg := o.fw.AppendRowGroup()
	for k, sp := range o.specs {
		cw, err := rg.NextColumn()
		if err != nil {
			return err
		}
		c := &g.cols[k]
		if err := o.writeColumn(cw, sp, c, g); err != nil {
			return fmt.Errorf("column %s: %w", o.schema.Field(k).Name, err)
		}
	}
	return rg.Close()
}

func (o *sourceOut) writeColumn(cw file.ColumnChunkWriter, sp colSpec, c *colData, g *rowGroup) error {
	var def []int16
	if sp.nullable {
		def = c.def
	}
	switch sp.kind {
	case kindTraceID:
		if cap(o.sc.zeros) < g.n {
			o.sc.zeros = make([]int32, g.n)
		}
		ok, err := writeIndices(cw, stringArray(o.id), o.sc.zeros[:g.n], nil)
		if ok || err != nil {
			return err
		}
		o.sc.vals = o.sc.vals[:0]
		for range g.n {
			o.sc.vals = append(o.sc.vals, parquet.ByteArray(o.id))
		}
		_, err = cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(o.sc.vals, nil, nil)
		return err
	case kindTime:
		ts := g.cols[1].i64
		o.sc.def = o.sc.def[:0]
		o.sc.times = o.sc.times[:0]
		if o.wall == 0 {
			for range g.n {
				o.sc.def = append(o.sc.def, 0)
			}
		} else {
			for _, t := range ts {
				o.sc.def = append(o.sc.def, 1)
				o.sc.times = append(o.sc.times, (t+o.wall)/1000)
			}
		}
		_, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch(o.sc.times, o.sc.def, nil)
		return err
	case kindTS, kindInt64:
		_, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch(c.i64, def, nil)
		return err
	case kindInt32:
		_, err := cw.(*file.Int32ColumnChunkWriter).WriteBatch(c.i32, def, nil)
		return err
	case kindComm:
		if ok, err := writeIndices(cw, o.commDict, c.i32, def); ok || err != nil {
			return err
		}
		d, ok := o.commDict.(*array.String)
		if !ok {
			return fmt.Errorf("comm dictionary of %s", o.commDict.DataType())
		}
		o.sc.vals = o.sc.vals[:0]
		for i, j := range c.i32 {
			if def[i] == 0 {
				continue
			}
			if int(j) < 0 || int(j) >= d.Len() {
				return fmt.Errorf("row %d: bad comm index %d", i, j)
			}
			o.sc.vals = append(o.sc.vals, parquet.ByteArray(d.Value(int(j))))
		}
		_, err := cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(o.sc.vals, def, nil)
		return err
	case kindBytes:
		o.sc.vals = o.sc.vals[:0]
		start := uint32(0)
		for _, end := range c.ends {
			o.sc.vals = append(o.sc.vals, c.data[start:end:end])
			start = end
		}
		_, err := cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(o.sc.vals, def, nil)
		return err
	}
	return fmt.Errorf("unknown column kind %d", sp.kind)
}

// writeIndices writes a fresh column chunk as indices (one per row, any
// value under a null) into dictionary dict, which saves hashing every
// value. It reports false, having written nothing, when it cannot: the
// chunk is not dictionary-encoded, or dict has nulls or repeated values
// (its indices would then not be the chunk's).
func writeIndices(cw file.ColumnChunkWriter, dict arrow.Array, idx []int32, def []int16) (bool, error) {
	enc, ok := cw.CurrentEncoder().(dictWriter)
	if !ok || cw.CurrentEncoder().Encoding() != parquet.Encodings.PlainDict || enc.NumEntries() != 0 || !uniqueStrings(dict) {
		return false, nil
	}
	for i, j := range idx {
		if (def == nil || def[i] != 0) && (j < 0 || int(j) >= dict.Len()) {
			return false, fmt.Errorf("row %d: bad dictionary index %d", i, j)
		}
	}
	if err := enc.PutDictionary(dict); err != nil {
		return false, err
	}
	if enc.NumEntries() != dict.Len() {
		return false, fmt.Errorf("dictionary of %d values took %d entries", dict.Len(), enc.NumEntries())
	}
	// The writer skips the indices under nulls by the array's validity.
	var valid *memory.Buffer
	nulls := 0
	if def != nil {
		bits := make([]byte, bitutil.BytesForBits(int64(len(def))))
		for i, d := range def {
			if d != 0 {
				bitutil.SetBit(bits, i)
			} else {
				nulls++
			}
		}
		if nulls > 0 {
			valid = memory.NewBufferBytes(bits)
		}
	}
	a := array.NewInt32Data(array.NewData(arrow.PrimitiveTypes.Int32, len(idx),
		[]*memory.Buffer{valid, memory.NewBufferBytes(asBytes(idx))}, nil, nulls, 0))
	defer a.Release()
	return true, cw.WriteDictIndices(a, def, nil)
}

// uniqueStrings reports whether d is a string array without nulls or
// repeated values, which a Parquet dictionary can take as it is.
func uniqueStrings(d arrow.Array) bool {
	s, ok := d.(*array.String)
	if !ok || s.NullN() > 0 {
		return false
	}
	seen := make(map[string]struct{}, s.Len())
	for i := 0; i < s.Len(); i++ {
		seen[s.Value(i)] = struct{}{}
	}
	return len(seen) == s.Len()
}

func stringArray(v string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.Append(v)
	return b.NewArray()
}
