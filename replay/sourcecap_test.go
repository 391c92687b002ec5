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

// TestSourceCapDistinctFields reads issue #18's many-interfaces shape past
// format.MaxSources, every format with fields of its own, one sample per
// source: the file keeps the first MaxSources sources and says so, their
// fields fill the schema up to MaxColumns at most, and every sample of a
// kept source comes out with its value. The CLI's quick run of the shape
// stays far below the cap; this reaches it.
func TestSourceCapDistinctFields(t *testing.T) {
	n := format.MaxSources + 100
	p := filepath.Join(t.TempDir(), "sources.kpcap")
	spec := traceSpec{sources: wideSources(n)}
	for i := 0; i < n; i++ {
		raw := make([]byte, 20)
		binary.LittleEndian.PutUint32(raw[8:], uint32(i))
		spec.samples = append(spec.samples, format.Sample{Source: uint32(i), Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw})
	}
	writeTrace(t, p, spec)
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := len(r.File().Header.Sources); got != format.MaxSources {
		t.Fatalf("%d sources kept, want %d", got, format.MaxSources)
	}
	if w := strings.Join(r.File().Warnings, "\n"); !strings.Contains(w, fmt.Sprintf("more than %d interfaces", format.MaxSources)) {
		t.Errorf("file warnings: %s", w)
	}
	ncols := len(r.cols)
	if ncols > MaxColumns || ncols < MaxColumns-2 {
		t.Errorf("%d field columns, want the schema filled up to %d", ncols, MaxColumns)
	}
	rows := 0
	for r.Next() {
		rec := r.Record()
		probe := rec.Column(int(colProbe(t, r))).(*array.Dictionary)
		names := probe.Dictionary().(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			k := rows + i
			if got, want := names.Value(probe.GetValueIndex(i)), fmt.Sprintf("g:e%d", k); got != want {
				t.Fatalf("row %d from %s, want %s", k, got, want)
			}
			if a, ok := rec.Column(numCommon + 2*k).(*array.Int32); !ok || a.IsNull(i) || a.Value(i) != int32(k) {
				t.Fatalf("row %d: field a%d is not %d", k, k, k)
			}
		}
		rows += int(rec.NumRows())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != format.MaxSources {
		t.Errorf("%d rows, want one per kept source (%d)", rows, format.MaxSources)
	}
}

// colProbe is the index of the probe column.
func colProbe(t *testing.T, r *Reader) int {
	t.Helper()
	idx := r.Schema().FieldIndices("probe")
	if len(idx) != 1 {
		t.Fatalf("probe column: %v", idx)
	}
	return idx[0]
}
