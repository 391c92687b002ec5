package replay

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
)

// wideSources are n sources whose formats have distinct field names (two
// each), as a hostile file declares thousands of them.
func wideSources(n int) []format.Source {
	srcs := make([]format.Source, n)
	for i := range srcs {
		srcs[i] = format.Source{Name: fmt.Sprintf("g:e%d", i), Kind: format.KindTracepoint,
			Format: fmt.Sprintf("name: e%d\n%s\tfield:int a%d;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char s%d[8];\toffset:12;\tsize:8;\tsigned:0;\n", i, strings.TrimPrefix(hostileHeader, "name: e\n"), i, i)}
	}
	return srcs
}

// TestWideSchemaBatches: a trace whose sources have thousands of distinct
// fields, all in one frame, comes out in batches of bounded cells (rows ×
// columns), every row intact. One batch of every row once cost rows ×
// columns × 8 bytes: 1.4 GB for replay of 16 Ki such sources.
func TestWideSchemaBatches(t *testing.T) {
	const n = 3000
	p := filepath.Join(t.TempDir(), "wide.kpcap")
	spec := traceSpec{sources: wideSources(n)}
	for i := 0; i < n; i++ {
		raw := make([]byte, 20)
		binary.LittleEndian.PutUint32(raw[8:], uint32(i)*3)
		copy(raw[12:], fmt.Sprintf("v%d", i))
		spec.samples = append(spec.samples, format.Sample{Source: uint32(i), Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw})
	}
	writeTrace(t, p, spec)
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ncols := int(r.Schema().NumFields()) - numCommon
	if ncols != 2*n {
		t.Fatalf("%d field columns, want %d", ncols, 2*n)
	}
	rows := 0
	for r.Next() {
		rec := r.Record()
		// 16 Mi cells (64 MiB of ints) per batch at most, whatever the width.
		if cells := int(rec.NumRows()) * ncols; int(rec.NumRows()) > 256 && cells > 16<<20 {
			t.Errorf("batch of %d rows × %d columns", rec.NumRows(), ncols)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			k := rows + i
			a := rec.Column(numCommon + 2*k).(*array.Int32)
			s := rec.Column(numCommon + 2*k + 1).(*array.String)
			if a.IsNull(i) || a.Value(i) != int32(3*k) || s.Value(i) != fmt.Sprintf("v%d", k) {
				t.Fatalf("row %d: a=%v s=%q", k, a.Value(i), s.Value(i))
			}
		}
		rows += int(rec.NumRows())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("%d rows, want %d", rows, n)
	}
}

// TestMaxColumns: sources whose fields would take the schema past
// MaxColumns are skipped with a warning that counts them.
func TestMaxColumns(t *testing.T) {
	n := MaxColumns/2 + 10
	ff := &format.File{Header: format.Header{Sources: wideSources(n)}}
	r, err := NewReader(ff, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := len(r.cols); got > MaxColumns {
		t.Errorf("%d columns", got)
	}
	if w := strings.Join(r.Warnings(), "\n"); !strings.Contains(w, "10 sources skipped") {
		t.Errorf("warnings: %s", w)
	}
}
