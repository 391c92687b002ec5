package parquetio

import (
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
)

// The Parquet writer sits on parquet/file rather than pqarrow: pqarrow pulls
// in arrow/compute and arrow/flight (grpc, protobuf), whose package inits
// cost every kpcap invocation milliseconds of CPU, recording included. It
// handles the flat schemas kpcap writes: integers, strings, binary,
// dictionary<int32,string> and booleans, required or optional.

// Writer writes Arrow records of one flat schema (integers, timestamps,
// booleans, strings, binary, dictionary<int32, utf8>) to one
// zstd-compressed Parquet file, in row groups of at most
// MaxRowGroupLength rows, packing small records together.
type Writer struct {
	sc      *arrow.Schema
	out     *sinkWriter
	fw      *file.Writer
	rg      file.BufferedRowGroupWriter
	rgRows  int64
	maxRows int64
	// Reused conversion buffers.
	def   []int16
	i32   []int32
	i64   []int64
	bytes []parquet.ByteArray
	dict  []parquet.ByteArray
	bools []bool
}

// NewWriter starts a Parquet file of schema sc laid out by l on w; closing
// it does not close w.
func NewWriter(sc *arrow.Schema, w io.Writer, l Layout) (pw *Writer, err error) {
	out := &sinkWriter{w: w}
	// file.NewParquetWriter panics when it cannot write the magic.
	defer func() {
		if r := recover(); r != nil {
			pw, err = nil, out.err
			if err == nil {
				err = fmt.Errorf("parquet: %v", r)
			}
		}
	}()
	props := l.Properties(sc)
	fw, err := newFileWriter(sc, out, props)
	if err != nil {
		return nil, err
	}
	return &Writer{sc: sc, out: out, fw: fw, maxRows: props.MaxRowGroupLength()}, nil
}

// newFileWriter starts a Parquet file of schema sc with props on out; it
// panics when it cannot write the magic (callers recover).
func newFileWriter(sc *arrow.Schema, out *sinkWriter, props *parquet.WriterProperties) (*file.Writer, error) {
	root, meta, err := parquetSchema(sc, props)
	if err != nil {
		return nil, err
	}
	fw := file.NewParquetWriter(out, root, file.WithWriterProps(props), file.WithWriteMetadata(meta))
	if out.err != nil {
		return nil, out.err
	}
	return fw, nil
}

// sinkWriter hides the caller's Close from file.Writer, which would close
// it, and keeps the first write error, which file.Writer.Close drops.
type sinkWriter struct {
	w   io.Writer
	err error
}

func (s *sinkWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// Write appends rec, starting a new row group whenever one is full.
func (p *Writer) Write(rec arrow.Record) (err error) {
	if !rec.Schema().Equal(p.sc) {
		return fmt.Errorf("record schema differs from the file's")
	}
	// parquet/file reports some failures by panicking.
	defer func() {
		if r := recover(); r != nil {
			err = p.panicErr(r)
		}
	}()
	n := rec.NumRows()
	for lo := int64(0); lo < n; {
		if p.rg == nil || p.rgRows >= p.maxRows {
			if err := p.closeRowGroup(); err != nil {
				return err
			}
			p.rg = p.fw.AppendBufferedRowGroup()
		}
		hi := min(n, lo+p.maxRows-p.rgRows)
		for i, col := range rec.Columns() {
			cw, err := p.rg.Column(i)
			if err != nil {
				return err
			}
			if err := p.writeColumn(cw, p.sc.Field(i), col, int(lo), int(hi)); err != nil {
				return fmt.Errorf("column %s: %w", p.sc.Field(i).Name, err)
			}
		}
		p.rgRows += hi - lo
		lo = hi
	}
	return nil
}

// panicErr turns a panic of parquet/file into an error, preferring the
// output's own error, which is usually its cause.
func (p *Writer) panicErr(r any) error {
	if p.out.err != nil {
		return p.out.err
	}
	return fmt.Errorf("parquet: %v", r)
}

func (p *Writer) closeRowGroup() error {
	if p.rg == nil {
		return nil
	}
	err := p.rg.Close()
	p.rg, p.rgRows = nil, 0
	if err == nil {
		err = p.out.err
	}
	return err
}

// Close finishes the last row group and writes the footer; it does not
// close the underlying writer.
func (p *Writer) Close() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = p.panicErr(r)
		}
	}()
	if err := p.closeRowGroup(); err != nil {
		p.fw.Close()
		return err
	}
	if err := p.fw.Close(); err != nil {
		return err
	}
	return p.out.err
}

// levels returns the definition levels of rows lo..hi of a (nil for a
// required column, which must then have no nulls).
func (p *Writer) levels(f arrow.Field, a arrow.Array, lo, hi int) ([]int16, error) {
	if !f.Nullable {
		if a.NullN() > 0 {
			for i := lo; i < hi; i++ {
				if a.IsNull(i) {
					return nil, fmt.Errorf("null in a non-nullable column")
				}
			}
		}
		return nil, nil
	}
	def := p.def[:0]
	if a.NullN() == 0 {
		for i := lo; i < hi; i++ {
			def = append(def, 1)
		}
	} else {
		for i := lo; i < hi; i++ {
			def = append(def, int16(1-b2i(a.IsNull(i))))
		}
	}
	p.def = def
	return def, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gather appends conv of the non-null values lo..hi of a (whose values are
// vals, indexed like a) to dst[:0]: Parquet stores only defined values.
func gather[T, V any](dst []T, a arrow.Array, vals []V, lo, hi int, conv func(V) T) []T {
	dst = dst[:0]
	if a.NullN() == 0 {
		for _, v := range vals[lo:hi] {
			dst = append(dst, conv(v))
		}
		return dst
	}
	for i := lo; i < hi; i++ {
		if a.IsValid(i) {
			dst = append(dst, conv(vals[i]))
		}
	}
	return dst
}

// strBytes views s as a ByteArray without copying: the column writer only
// reads it (it encodes the bytes into its pages) and never keeps it.
func strBytes(s string) parquet.ByteArray {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (p *Writer) writeColumn(cw file.ColumnChunkWriter, f arrow.Field, a arrow.Array, lo, hi int) error {
	def, err := p.levels(f, a, lo, hi)
	if err != nil {
		return err
	}
	switch a := a.(type) {
	case *array.Int64, *array.Timestamp, *array.Uint64:
		return p.writeInt64(cw, a, def, lo, hi)
	case *array.String:
		p.bytes = p.bytes[:0]
		for i := lo; i < hi; i++ {
			if a.IsValid(i) {
				p.bytes = append(p.bytes, strBytes(a.Value(i)))
			}
		}
		return p.writeBytes(cw, def)
	case *array.Binary:
		p.bytes = p.bytes[:0]
		for i := lo; i < hi; i++ {
			if a.IsValid(i) {
				p.bytes = append(p.bytes, a.Value(i))
			}
		}
		return p.writeBytes(cw, def)
	case *array.Dictionary:
		return p.writeDictionary(cw, a, def, lo, hi)
	case *array.Boolean:
		p.bools = p.bools[:0]
		for i := lo; i < hi; i++ {
			if a.IsValid(i) {
				p.bools = append(p.bools, a.Value(i))
			}
		}
		_, err = cw.(*file.BooleanColumnChunkWriter).WriteBatch(p.bools, def, nil)
		return err
	}
	if err := p.gatherInt32(a, lo, hi); err != nil {
		return err
	}
	_, err = cw.(*file.Int32ColumnChunkWriter).WriteBatch(p.i32, def, nil)
	return err
}

// gatherInt32 puts the non-null values of rows lo..hi of a, an integer
// array of at most 32 bits, into p.i32.
func (p *Writer) gatherInt32(a arrow.Array, lo, hi int) error {
	switch a := a.(type) {
	case *array.Int8:
		p.i32 = gather(p.i32, a, a.Int8Values(), lo, hi, func(v int8) int32 { return int32(v) })
	case *array.Int16:
		p.i32 = gather(p.i32, a, a.Int16Values(), lo, hi, func(v int16) int32 { return int32(v) })
	case *array.Int32:
		p.i32 = gather(p.i32, a, a.Int32Values(), lo, hi, func(v int32) int32 { return v })
	case *array.Uint8:
		p.i32 = gather(p.i32, a, a.Uint8Values(), lo, hi, func(v uint8) int32 { return int32(v) })
	case *array.Uint16:
		p.i32 = gather(p.i32, a, a.Uint16Values(), lo, hi, func(v uint16) int32 { return int32(v) })
	case *array.Uint32:
		// Bit pattern kept: the INT(32, false) logical type says unsigned.
		p.i32 = gather(p.i32, a, a.Uint32Values(), lo, hi, func(v uint32) int32 { return int32(v) })
	default:
		return fmt.Errorf("unsupported array %s", a.DataType())
	}
	return nil
}

// writeInt64 writes rows lo..hi of a, an int64, uint64 or timestamp array.
func (p *Writer) writeInt64(cw file.ColumnChunkWriter, a arrow.Array, def []int16, lo, hi int) error {
	switch a := a.(type) {
	case *array.Int64:
		if a.NullN() == 0 {
			_, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch(a.Int64Values()[lo:hi], def, nil)
			return err
		}
		p.i64 = gather(p.i64, a, a.Int64Values(), lo, hi, func(v int64) int64 { return v })
	case *array.Timestamp:
		p.i64 = gather(p.i64, a, a.TimestampValues(), lo, hi, func(v arrow.Timestamp) int64 { return int64(v) })
	case *array.Uint64:
		p.i64 = gather(p.i64, a, a.Uint64Values(), lo, hi, func(v uint64) int64 { return int64(v) })
	default:
		return fmt.Errorf("unsupported array %s", a.DataType())
	}
	_, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch(p.i64, def, nil)
	return err
}

// writeDictionary writes rows lo..hi of a, a dictionary of strings: as
// indices into the chunk's dictionary when it can, else value by value.
func (p *Writer) writeDictionary(cw file.ColumnChunkWriter, a *array.Dictionary, def []int16, lo, hi int) error {
	d, ok := a.Dictionary().(*array.String)
	if !ok {
		return fmt.Errorf("unsupported dictionary values %s", a.Dictionary().DataType())
	}
	if ok, err := writeDictDirect(cw, a, d, def, lo, hi); ok || err != nil {
		return err
	}
	p.dict = p.dict[:0]
	for i := 0; i < d.Len(); i++ {
		p.dict = append(p.dict, strBytes(d.Value(i)))
	}
	p.bytes = p.bytes[:0]
	for i := lo; i < hi; i++ {
		if a.IsValid(i) {
			j := a.GetValueIndex(i)
			if j < 0 || j >= len(p.dict) || d.IsNull(j) {
				return fmt.Errorf("row %d: bad dictionary index %d", i, j)
			}
			p.bytes = append(p.bytes, p.dict[j])
		}
	}
	return p.writeBytes(cw, def)
}

// dictEncoder is the part of parquet's dictionary encoder (an internal
// type) that writing Arrow dictionary indices directly needs.
type dictEncoder interface {
	PutDictionary(arrow.Array) error
	PreservedDictionary() arrow.Array
	NumEntries() int
}

// writeDictDirect writes rows lo..hi of a as indices into the chunk's
// dictionary, seeded with a's dictionary d, which saves hashing every
// value. It reports false when it cannot: the chunk is no longer
// dictionary-encoded, or its dictionary is not exactly d (another batch's
// dictionary, or values hashed in); the caller then writes the values.
func writeDictDirect(cw file.ColumnChunkWriter, a *array.Dictionary, d arrow.Array, def []int16, lo, hi int) (bool, error) {
	enc, ok := cw.CurrentEncoder().(dictEncoder)
	if !ok || cw.CurrentEncoder().Encoding() != parquet.Encodings.PlainDict || cw.PageStatistics() != nil {
		return false, nil
	}
	switch pre := enc.PreservedDictionary(); {
	case enc.NumEntries() == 0 && pre == nil:
		if d.NullN() > 0 {
			return false, nil
		}
		if err := enc.PutDictionary(d); err != nil {
			return false, err
		}
		if enc.NumEntries() != d.Len() {
			return false, nil // duplicate values: indices would not match
		}
	case pre == nil || enc.NumEntries() != pre.Len():
		return false, nil
	case pre != d && !array.Equal(pre, d):
		return false, nil
	}
	idx := array.NewSlice(a.Indices(), int64(lo), int64(hi))
	defer idx.Release()
	return true, cw.WriteDictIndices(idx, def, nil)
}

func (p *Writer) writeBytes(cw file.ColumnChunkWriter, def []int16) error {
	_, err := cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(p.bytes, def, nil)
	return err
}
