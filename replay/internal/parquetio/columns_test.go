package parquetio

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// pagesColumn is one column of the Columns test: every row's value
// and whether it is null.
type pagesColumn struct {
	field arrow.Field
	vals  []int64 // dictionary indices for a string column
	null  []bool
}

// TestParquetColumnsRoundTrip writes row groups of every column kind
// Columns takes, with null patterns that make RLE runs, bit-packed
// groups and both mixed, deltas of every width (wrapping ones included)
// and more rows than a page holds, and reads every cell back through
// arrow's Parquet reader.
func TestParquetColumnsRoundTrip(t *testing.T) {
	dict := []string{"swapper", "bash", "", "kworker/0:1", "x\x00y"}
	const rows = 300_000 // more than one page of each width
	cols := pagesColumns(dict, rows)
	var fields []arrow.Field
	for _, c := range cols {
		fields = append(fields, c.field)
	}
	sc := arrow.NewSchema(fields, nil)
	var buf bytes.Buffer
	pw, err := NewColumns(sc, &buf, 3, Layout{Stats: []string{"ts", "cpu", "pid", "tid", "time"}, Delta: []string{"ts"}})
	if err != nil {
		t.Fatal(err)
	}
	groups := [][2]int{{0, 7}, {7, 200_000}, {200_000, rows}}
	for _, g := range groups {
		writePagesGroup(t, pw, cols, dict, g[0], g[1])
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRowGroups() != len(groups) || pf.NumRows() != rows {
		t.Fatalf("%d row groups, %d rows", pf.NumRowGroups(), pf.NumRows())
	}
	if st, err := pf.RowGroup(1).MetaData().ColumnChunk(1); err != nil || !statsSet(st) {
		t.Fatalf("ts statistics missing: %v", err)
	}
	for k, want := range map[int]compress.Compression{7: compress.Codecs.Zstd, 8: compress.Codecs.Uncompressed} {
		if cc, err := pf.RowGroup(1).MetaData().ColumnChunk(k); err != nil || cc.Compression() != want {
			t.Fatalf("column %d: codec %v, want %v (%v)", k, cc.Compression(), want, err)
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	for k, c := range cols {
		checkPagesColumn(t, tbl.Column(k), c, dict)
	}
}

func writePagesGroup(t *testing.T, pw *Columns, cols []pagesColumn, dict []string, lo, hi int) {
	t.Helper()
	pw.StartRowGroup(hi - lo)
	for _, c := range cols {
		var def []int16
		var i64 []int64
		var i32 []int32
		for i := lo; i < hi; i++ {
			if c.field.Nullable {
				def = append(def, int16(b2i16(!c.null[i])))
			}
			if !c.null[i] {
				i64 = append(i64, c.vals[i])
				i32 = append(i32, int32(c.vals[i]))
			}
		}
		var err error
		switch c.field.Type.ID() {
		case arrow.DICTIONARY:
			err = pw.WriteDict(dict, i32, def, hi-lo)
		case arrow.INT32:
			err = pw.WriteInt32(i32, def, hi-lo)
		default:
			err = pw.WriteInt64(i64, def, hi-lo)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.field.Name, err)
		}
	}
	if err := pw.EndRowGroup(); err != nil {
		t.Fatal(err)
	}
}

func checkPagesColumn(t *testing.T, col *arrow.Column, c pagesColumn, dict []string) {
	t.Helper()
	i := 0
	for _, a := range col.Data().Chunks() {
		for j := 0; j < a.Len(); j, i = j+1, i+1 {
			if a.IsNull(j) != c.null[i] {
				t.Fatalf("%s row %d: null %v, want %v", c.field.Name, i, a.IsNull(j), c.null[i])
			}
			if c.null[i] {
				continue
			}
			var got, want any = nil, c.vals[i]
			switch v := a.(type) {
			case *array.Dictionary:
				got, want = v.Dictionary().(*array.String).Value(v.GetValueIndex(j)), dict[c.vals[i]]
			case *array.Int64:
				got = v.Value(j)
			case *array.Int32:
				got, want = int64(v.Value(j)), c.vals[i]
			case *array.Timestamp:
				got = int64(v.Value(j))
			default:
				t.Fatalf("%s: read as %s", c.field.Name, a.DataType())
			}
			if got != want {
				t.Fatalf("%s row %d: %v, want %v", c.field.Name, i, got, want)
			}
		}
	}
	if i != len(c.vals) {
		t.Fatalf("%s: %d rows read, want %d", c.field.Name, i, len(c.vals))
	}
}

func statsSet(c interface{ StatsSet() (bool, error) }) bool {
	ok, err := c.StatsSet()
	return ok && err == nil
}

// pagesColumns makes the test's columns of rows rows: deltas of every
// width, wrapping ones included, and nulls in runs, alternating and at
// random.
func pagesColumns(dict []string, rows int) []pagesColumn {
	rng := rand.New(rand.NewPCG(1, 2))
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	cols := []pagesColumn{
		{field: arrow.Field{Name: "trace_id", Type: dictType}},
		{field: arrow.Field{Name: "ts", Type: arrow.PrimitiveTypes.Int64}},
		{field: arrow.Field{Name: "time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true}},
		{field: arrow.Field{Name: "cpu", Type: arrow.PrimitiveTypes.Int32}},
		{field: arrow.Field{Name: "comm", Type: dictType, Nullable: true}},
		{field: arrow.Field{Name: "all_null", Type: arrow.PrimitiveTypes.Int64, Nullable: true}},
		{field: arrow.Field{Name: "mixed", Type: arrow.PrimitiveTypes.Int64, Nullable: true}},
		// Steady times compress: the chunks stay zstd; random ones are
		// written raw.
		{field: arrow.Field{Name: "steady", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true}},
		{field: arrow.Field{Name: "noise", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}}},
	}
	ts := int64(1000)
	for i := 0; i < rows; i++ {
		// Deltas of every width: small steps, jumps, wraps at the extremes.
		switch r := rng.IntN(100); {
		case r < 80:
			ts += int64(rng.IntN(5000))
		case r < 90:
			ts -= int64(rng.IntN(1 << 20))
		case r < 95:
			ts = rng.Int64() - math.MaxInt64/2
		case r < 97:
			ts = math.MaxInt64
		default:
			ts = math.MinInt64
		}
		phase := (i / 1000) % 4 // runs of nulls, of values, alternation, random
		null := [4]bool{true, false, i%2 == 0, rng.IntN(3) == 0}[phase]
		cols[0].vals = append(cols[0].vals, 0)
		cols[1].vals = append(cols[1].vals, ts)
		cols[2].vals = append(cols[2].vals, ts/1000)
		cols[3].vals = append(cols[3].vals, int64(rng.IntN(64)))
		cols[4].vals = append(cols[4].vals, int64(rng.IntN(len(dict))))
		cols[5].vals = append(cols[5].vals, 0)
		cols[6].vals = append(cols[6].vals, rng.Int64())
		cols[7].vals = append(cols[7].vals, int64(i)*1000)
		cols[8].vals = append(cols[8].vals, rng.Int64())
		for k := range cols {
			cols[k].null = append(cols[k].null, cols[k].field.Nullable && (null || k == 5))
		}
	}
	return cols
}

// b2i16 is a definition level: 1 for a defined value.
func b2i16(b bool) int16 {
	if b {
		return 1
	}
	return 0
}
