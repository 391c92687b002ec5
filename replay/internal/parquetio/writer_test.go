package parquetio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// roundTripSchema has every column type the Parquet writer handles, required
// and optional.
var roundTripSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "cpu", Type: arrow.PrimitiveTypes.Uint32},
	{Name: "pid", Type: arrow.PrimitiveTypes.Int32},
	{Name: "tid", Type: arrow.PrimitiveTypes.Int32},
	{Name: "comm", Type: dictType, Nullable: true},
	{Name: "probe", Type: dictType},
	{Name: "stack_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "src.name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "buf", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "maybe", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, func() *arrow.Metadata { m := arrow.NewMetadata([]string{"kpcap.hostname"}, []string{"h1"}); return &m }())

// roundTripRecord builds n rows starting at row base; every nullable column
// has nulls, and the integer columns reach their extremes.
func roundTripRecord(t *testing.T, base, n int) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, roundTripSchema)
	defer b.Release()
	for r := base; r < base+n; r++ {
		null := r%3 == 1
		ext := r % 4 // 0: min, 1: max, else ordinary
		b.Field(0).(*array.Uint64Builder).Append([]uint64{0, math.MaxUint64, uint64(r) << 40, 7}[ext])
		b.Field(1).(*array.Uint32Builder).Append([]uint32{0, math.MaxUint32, uint32(r), 1}[ext])
		b.Field(2).(*array.Int32Builder).Append([]int32{math.MinInt32, math.MaxInt32, int32(r), -1}[ext])
		b.Field(3).(*array.Int32Builder).Append(int32(-r))
		if null {
			b.Field(4).AppendNull()
		} else if err := b.Field(4).(*array.BinaryDictionaryBuilder).AppendString(fmt.Sprintf("comm%d", r%5)); err != nil {
			t.Fatal(err)
		}
		if err := b.Field(5).(*array.BinaryDictionaryBuilder).AppendString([]string{"syscalls:sys_enter_openat", "probe_libc:malloc", ""}[r%3]); err != nil {
			t.Fatal(err)
		}
		appendOr := func(i int, f func()) {
			if null {
				b.Field(i).AppendNull()
			} else {
				f()
			}
		}
		appendOr(6, func() { b.Field(6).(*array.Int64Builder).Append(int64(r)) })
		appendOr(7, func() { b.Field(7).(*array.Int8Builder).Append([]int8{math.MinInt8, math.MaxInt8, int8(r), -3}[ext]) })
		appendOr(8, func() {
			b.Field(8).(*array.Int16Builder).Append([]int16{math.MinInt16, math.MaxInt16, int16(r), -3}[ext])
		})
		appendOr(9, func() {
			b.Field(9).(*array.Int32Builder).Append([]int32{math.MinInt32, math.MaxInt32, int32(r), -3}[ext])
		})
		appendOr(10, func() {
			b.Field(10).(*array.Int64Builder).Append([]int64{math.MinInt64, math.MaxInt64, int64(r), -3}[ext])
		})
		appendOr(11, func() { b.Field(11).(*array.Uint8Builder).Append([]uint8{0, math.MaxUint8, uint8(r), 3}[ext]) })
		appendOr(12, func() { b.Field(12).(*array.Uint16Builder).Append([]uint16{0, math.MaxUint16, uint16(r), 3}[ext]) })
		appendOr(13, func() { b.Field(13).(*array.Uint32Builder).Append([]uint32{0, math.MaxUint32, uint32(r), 3}[ext]) })
		appendOr(14, func() { b.Field(14).(*array.Uint64Builder).Append([]uint64{0, math.MaxUint64, uint64(r), 3}[ext]) })
		appendOr(15, func() { b.Field(15).(*array.StringBuilder).Append([]string{"", "/etc/passwd", "héllo\x00", "x"}[ext]) })
		appendOr(16, func() {
			b.Field(16).(*array.BinaryBuilder).Append([][]byte{{}, {0, 1, 2, 255}, []byte("abc"), {0}}[ext])
		})
		b.Field(17).(*array.BooleanBuilder).Append(r%2 == 0)
		appendOr(18, func() { b.Field(18).(*array.BooleanBuilder).Append(r%2 == 1) })
	}
	return b.NewRecord()
}

// cell returns value i of a as a comparable Go value (nil when null).
func cell(t *testing.T, a arrow.Array, i int) any {
	t.Helper()
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Dictionary:
		return "dict:" + a.Dictionary().(*array.String).Value(a.GetValueIndex(i))
	case *array.Binary:
		return "bin:" + string(a.Value(i))
	case *array.String:
		return "str:" + a.Value(i)
	}
	return a.GetOneForMarshal(i)
}

// rows flattens column ci of recs.
func columnCells(t *testing.T, arrs []arrow.Array) []any {
	var out []any
	for _, a := range arrs {
		for i := 0; i < a.Len(); i++ {
			out = append(out, cell(t, a, i))
		}
	}
	return out
}

func TestParquetRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sizes   []int
		maxRows int64 // 0: the default
		slices  bool  // cut one record into slices that share dictionaries
	}{
		{"empty", nil, 0, false},
		{"one", []int{1}, 0, false},
		{"batches", []int{7, 1, 30, 0, 12}, 0, false},
		// Row groups split inside and across records.
		{"split", []int{7, 1, 30, 0, 12}, 8, false},
		{"slices", []int{7, 1, 30, 0, 12}, 0, true},
		{"slices-split", []int{7, 1, 30, 0, 12}, 8, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []arrow.Record
			base := 0
			if tc.slices {
				total := 0
				for _, n := range tc.sizes {
					total += n
				}
				whole := roundTripRecord(t, 0, total)
				defer whole.Release()
				for _, n := range tc.sizes {
					rec := whole.NewSlice(int64(base), int64(base+n))
					defer rec.Release()
					recs = append(recs, rec)
					base += n
				}
			} else {
				for _, n := range tc.sizes {
					rec := roundTripRecord(t, base, n)
					defer rec.Release()
					recs = append(recs, rec)
					base += n
				}
			}
			var buf bytes.Buffer
			pw, err := NewWriter(roundTripSchema, &buf, testLayout)
			if err != nil {
				t.Fatal(err)
			}
			if tc.maxRows > 0 {
				pw.maxRows = tc.maxRows
			}
			for _, rec := range recs {
				if err := pw.Write(rec); err != nil {
					t.Fatal(err)
				}
			}
			if err := pw.Close(); err != nil {
				t.Fatal(err)
			}

			pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			md := pf.MetaData()
			if md.NumRows != int64(base) {
				t.Fatalf("parquet rows %d, want %d", md.NumRows, base)
			}
			if tc.maxRows > 0 {
				if want := (int64(base) + tc.maxRows - 1) / tc.maxRows; int64(pf.NumRowGroups()) != want {
					t.Errorf("row groups %d, want %d", pf.NumRowGroups(), want)
				}
			}
			for i := 0; i < pf.NumRowGroups(); i++ {
				if n := md.RowGroup(i).NumRows(); tc.maxRows > 0 && n > tc.maxRows {
					t.Errorf("row group %d has %d rows, max %d", i, n, tc.maxRows)
				}
			}
			if v := md.KeyValueMetadata().FindValue("kpcap.hostname"); v == nil || *v != "h1" {
				t.Errorf("kpcap.hostname metadata = %v", v)
			}
			checkParquetSchema(t, pf)

			checkArrowCells(t, pf, recs, int64(base))
		})
	}
}

// checkArrowCells reads pf back through pqarrow and checks its schema and
// every cell against recs, rows rows in all.
func checkArrowCells(t *testing.T, pf *file.Reader, recs []arrow.Record, rows int64) {
	t.Helper()
	ar, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := ar.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumRows() != rows {
		t.Fatalf("pqarrow rows %d, want %d", tbl.NumRows(), rows)
	}
	for ci, f := range roundTripSchema.Fields() {
		got := tbl.Column(ci)
		if got.Name() != f.Name || !arrow.TypeEqual(got.DataType(), f.Type) || tbl.Schema().Field(ci).Nullable != f.Nullable {
			t.Errorf("column %d: read %s %s nullable=%v, wrote %s %s nullable=%v", ci, got.Name(), got.DataType(), tbl.Schema().Field(ci).Nullable, f.Name, f.Type, f.Nullable)
			continue
		}
		var want []arrow.Array
		for _, rec := range recs {
			want = append(want, rec.Column(ci))
		}
		w, g := columnCells(t, want), columnCells(t, got.Data().Chunks())
		if !reflect.DeepEqual(w, g) {
			t.Errorf("column %s:\n got %v\nwant %v", f.Name, g, w)
		}
	}
}

// checkParquetSchema checks what readers that ignore ARROW:schema see:
// logical types, repetition, and the encodings, statistics and compression
// the writer promises.
func checkParquetSchema(t *testing.T, pf *file.Reader) {
	t.Helper()
	sc := pf.MetaData().Schema
	intType := map[arrow.Type]schema.LogicalType{
		arrow.INT8: schema.NewIntLogicalType(8, true), arrow.INT16: schema.NewIntLogicalType(16, true),
		arrow.INT32: schema.NewIntLogicalType(32, true), arrow.INT64: schema.NewIntLogicalType(64, true),
		arrow.UINT8: schema.NewIntLogicalType(8, false), arrow.UINT16: schema.NewIntLogicalType(16, false),
		arrow.UINT32: schema.NewIntLogicalType(32, false), arrow.UINT64: schema.NewIntLogicalType(64, false),
	}
	for ci, f := range roundTripSchema.Fields() {
		c := sc.Column(ci)
		if c.Name() != f.Name {
			t.Errorf("column %d named %q, want %q", ci, c.Name(), f.Name)
		}
		wantDef := int16(0)
		if f.Nullable {
			wantDef = 1
		}
		if c.MaxDefinitionLevel() != wantDef || c.MaxRepetitionLevel() != 0 {
			t.Errorf("%s: levels def %d rep %d, want def %d rep 0", f.Name, c.MaxDefinitionLevel(), c.MaxRepetitionLevel(), wantDef)
		}
		var wantLT schema.LogicalType = schema.NoLogicalType{}
		wantPT := parquet.Types.ByteArray
		switch f.Type.ID() {
		case arrow.STRING, arrow.DICTIONARY:
			wantLT = schema.StringLogicalType{}
		case arrow.BINARY:
		case arrow.BOOL:
			wantPT = parquet.Types.Boolean
		default:
			wantLT = intType[f.Type.ID()]
			wantPT = parquet.Types.Int32
			if f.Type.ID() == arrow.INT64 || f.Type.ID() == arrow.UINT64 {
				wantPT = parquet.Types.Int64
			}
		}
		if !c.LogicalType().Equals(wantLT) || c.PhysicalType() != wantPT {
			t.Errorf("%s: %s %s, want %s %s", f.Name, c.PhysicalType(), c.LogicalType(), wantPT, wantLT)
		}
		if it, ok := wantLT.(*schema.IntLogicalType); ok && it.BitWidth() < 32 {
			checkNarrowInts(t, pf, ci, f.Name, it)
		}
		for rg := 0; rg < pf.NumRowGroups(); rg++ {
			cc, err := pf.MetaData().RowGroup(rg).ColumnChunk(ci)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != compress.Codecs.Zstd {
				t.Errorf("%s: compression %v", f.Name, cc.Compression())
			}
			isStr := f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.DICTIONARY
			if cc.HasDictionaryPage() != isStr {
				t.Errorf("%s: dictionary page %v, want %v", f.Name, cc.HasDictionaryPage(), isStr)
			}
			stats, _ := cc.StatsSet()
			wantStats := f.Name == "ts" || f.Name == "cpu" || f.Name == "pid" || f.Name == "tid"
			if stats != wantStats {
				t.Errorf("%s: statistics %v, want %v", f.Name, stats, wantStats)
			}
		}
	}
}

// checkNarrowInts checks that the INT32 values of an 8 or 16-bit column are
// sign- or zero-extended as the spec says: readers may rely on it (for
// statistics, or without narrowing).
func checkNarrowInts(t *testing.T, pf *file.Reader, ci int, name string, it *schema.IntLogicalType) {
	t.Helper()
	lo, hi := int64(0), int64(1)<<it.BitWidth()-1
	if it.IsSigned() {
		lo, hi = -(int64(1) << (it.BitWidth() - 1)), int64(1)<<(it.BitWidth()-1)-1
	}
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		cr, err := pf.RowGroup(rg).Column(ci)
		if err != nil {
			t.Fatal(err)
		}
		n := pf.MetaData().RowGroup(rg).NumRows()
		vals := make([]int32, n)
		def := make([]int16, n)
		_, got, err := cr.(*file.Int32ColumnChunkReader).ReadBatch(n, vals, def, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals[:got] {
			if int64(v) < lo || int64(v) > hi {
				t.Errorf("%s: stored value %d outside [%d, %d]", name, v, lo, hi)
				return
			}
		}
	}
}

// failingWriter fails once more than room bytes are written, and records
// whether it was closed: the caller owns it.
type failingWriter struct {
	room   int
	closed bool
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.room {
		n := f.room
		f.room = 0
		return n, fmt.Errorf("disk full")
	}
	f.room -= len(p)
	return len(p), nil
}

func (f *failingWriter) Close() error { f.closed = true; return nil }

func TestParquetWriteErrors(t *testing.T) {
	rec := roundTripRecord(t, 0, 100)
	defer rec.Release()
	var full bytes.Buffer
	if err := writeRecord(&full, rec); err != nil {
		t.Fatal(err)
	}
	// Fail at the magic, inside the row group, and inside the footer.
	for _, room := range []int{0, 10, full.Len() / 2, full.Len() - 10} {
		w := &failingWriter{room: room}
		err := writeRecord(w, rec)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("room %d: error %v, want disk full", room, err)
		}
		if w.closed {
			t.Errorf("room %d: the writer closed the caller's file", room)
		}
	}
	w := &failingWriter{room: full.Len()}
	if err := writeRecord(w, rec); err != nil || w.closed {
		t.Errorf("exact room: error %v, closed %v", err, w.closed)
	}
}

func TestParquetRejectsNullInRequired(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}}, nil)
	b := array.NewInt32Builder(memory.DefaultAllocator)
	b.AppendValues([]int32{1, 0}, []bool{true, false})
	a := b.NewArray()
	defer a.Release()
	rec := array.NewRecord(sc, []arrow.Array{a}, 2)
	defer rec.Release()
	pw, err := NewWriter(sc, new(bytes.Buffer), testLayout)
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Write(rec); err == nil || !strings.Contains(err.Error(), "null in a non-nullable column") {
		t.Fatalf("Write = %v, want a null error", err)
	}
}

// testLayout keeps statistics on the columns replay's files keep them on.
var testLayout = Layout{Stats: []string{"ts", "cpu", "pid", "tid"}, Delta: []string{"ts"}}

// dictType is the type of replay's comm and probe columns.
var dictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// writeRecord writes rec to w as one Parquet file of roundTripSchema.
func writeRecord(w io.Writer, rec arrow.Record) error {
	pw, err := NewWriter(roundTripSchema, w, testLayout)
	if err != nil {
		return err
	}
	if err := pw.Write(rec); err != nil {
		return err
	}
	return pw.Close()
}
