package parquetio

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// TestParquetColumnsBytes writes string and binary columns through
// WriteBytes: few distinct strings (a dictionary), binary values (PLAIN),
// and distinct strings past the dictionary page limit (PLAIN, several
// pages), with nulls, and reads every cell back through arrow.
func TestParquetColumnsBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rows = 120_000
	words := []string{"", "/etc/passwd", "/usr/lib/x86_64-linux-gnu/libc.so.6", "\uFFFDx"}
	fields := []arrow.Field{
		{Name: "word", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "long", Type: arrow.BinaryTypes.String},
	}
	want := make([][]*string, len(fields))
	for i := 0; i < rows; i++ {
		w := words[rng.IntN(len(words))]
		b := string([]byte{byte(i), byte(i >> 8), 0, byte(rng.IntN(256))})[:rng.IntN(5)]
		l := fmt.Sprintf("%064d-%d", i, rng.Int64())
		for k, v := range []string{w, b, l} {
			if k < 2 && (i/500)%3 == 1 || k < 2 && rng.IntN(7) == 0 {
				want[k] = append(want[k], nil)
				continue
			}
			want[k] = append(want[k], &v)
		}
	}
	var buf bytes.Buffer
	pw, err := NewColumns(arrow.NewSchema(fields, nil), &buf, 3, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	pw.StartRowGroup(rows)
	for k, f := range fields {
		var data []byte
		var ends []uint32
		var def []int16
		for _, v := range want[k] {
			if f.Nullable {
				def = append(def, int16(b2i16(v != nil)))
			}
			if v != nil {
				data = append(data, *v...)
				ends = append(ends, uint32(len(data)))
			}
		}
		if err := pw.WriteBytes(data, ends, def, rows); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	if err := pw.EndRowGroup(); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	checkBytesColumns(t, buf.Bytes(), want, map[int]bool{0: true, 1: false, 2: false})
}

// checkBytesColumns reads file back and compares every cell with want;
// dict says which columns must have a dictionary page.
func checkBytesColumns(t *testing.T, b []byte, want [][]*string, dict map[int]bool) {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for k, d := range dict {
		cc, err := pf.RowGroup(0).MetaData().ColumnChunk(k)
		if err != nil || cc.HasDictionaryPage() != d {
			t.Fatalf("column %d: dictionary page %v, want %v (%v)", k, cc.HasDictionaryPage(), d, err)
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
	for k := range want {
		i := 0
		for _, a := range tbl.Column(k).Data().Chunks() {
			for j := 0; j < a.Len(); j, i = j+1, i+1 {
				w := want[k][i]
				if a.IsNull(j) != (w == nil) {
					t.Fatalf("column %d row %d: null %v, want %v", k, i, a.IsNull(j), w == nil)
				}
				if w == nil {
					continue
				}
				var got string
				switch v := a.(type) {
				case *array.String:
					got = v.Value(j)
				case *array.Binary:
					got = string(v.Value(j))
				}
				if got != *w {
					t.Fatalf("column %d row %d: %q, want %q", k, i, got, *w)
				}
			}
		}
		if i != len(want[k]) {
			t.Fatalf("column %d: %d rows, want %d", k, i, len(want[k]))
		}
	}
}
