package replay

import (
	"bytes"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/kpcap/kpcap/format"
)

// deepStacksTrace writes a trace of samples distinct callchains of the most
// ips a file may hold over two kernel symbols (issue #18's deep-callchain
// shape): every stack differs from the others in one frame.
func deepStacksTrace(t *testing.T, samples int) string {
	const base = 0xffffffff81000000
	tp := "name: e\nID: 1\nformat:\n" +
		"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
		"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
		"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
		"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
	spec := traceSpec{
		sources: []format.Source{{Name: "g:e", Kind: format.KindTracepoint, Format: tp}},
		syms:    []format.Symbol{{Addr: base, Size: 0x100, Name: "a"}, {Addr: base + 0x100, Size: 0x100, Name: "b"}},
	}
	for i := 0; i < samples; i++ {
		ips := make([]uint64, format.MaxCallchain)
		for k := range ips {
			ips[k] = base + uint64(k%2)*0x100 + 8
		}
		ips[i] ^= 0x100 // every stack differs in one frame
		spec.samples = append(spec.samples, format.Sample{Time: uint64(i + 1), PID: 1, TID: 1, Raw: make([]byte, 8), Callchain: ips})
	}
	path := filepath.Join(t.TempDir(), "deep.kpcap")
	writeTrace(t, path, spec)
	return path
}

// heapAfterGC is the live heap.
func heapAfterGC() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestDeepStacksRetainIndexes checks that the stacks of a file take a few
// bytes per ip once read, neither the raw ips nor a key string of each, and
// that symbolizing them shares the frames.
func TestDeepStacksRetainIndexes(t *testing.T) {
	const samples = 100
	path := deepStacksTrace(t, samples)
	ips := int64(samples * format.MaxCallchain)

	base := heapAfterGC()
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if got := r.StackCount(); got != samples {
		t.Fatalf("%d stacks, want %d", got, samples)
	}
	read := heapAfterGC() - base
	t.Logf("reading %d ips retains %d bytes (%.1f per ip)", ips, read, float64(read)/float64(ips))
	if read > 6*ips {
		t.Errorf("reading %d ips retains %d bytes, over 6 per ip", ips, read)
	}

	before := heapAfterGC()
	rec := r.StacksRecord()
	if got, want := rec.NumRows(), ips; got != want {
		t.Fatalf("stacks record has %d rows, want %d", got, want)
	}
	rec.Release()
	retained := heapAfterGC() - before
	t.Logf("symbolizing %d ips retains %d bytes (%.1f per ip)", ips, retained, float64(retained)/float64(ips))
	if retained > 2*ips {
		t.Errorf("symbolizing %d ips retains %d bytes, over 2 per ip", ips, retained)
	}
	if f := r.Stack(3); len(f) != format.MaxCallchain || f[3].Name != "a" || f[2].Name != "a" || f[4].Name != "a" {
		t.Errorf("stack 3 frames 2-4 = %+v, want a, a, a", f[2:5])
	}
	runtime.KeepAlive(r)
}

// TestStacksWrittenInBatches: the stacks table of deep stacks is written as
// Arrow record batches of at most stackBatchRows rows, not one record of
// every frame, and holds the rows of StacksRecord (a stack may span two
// batches).
func TestStacksWrittenInBatches(t *testing.T) {
	const samples = 20
	path := deepStacksTrace(t, samples)
	_, r := readAllText(t, path, Options{}, false)
	var buf bytes.Buffer
	n, err := WriteStacksArrow(r, &buf)
	if err != nil {
		t.Fatal(err)
	}
	want := r.StacksRecord()
	defer want.Release()
	if n != want.NumRows() || n != samples*format.MaxCallchain {
		t.Fatalf("wrote %d rows, StacksRecord has %d, want %d", n, want.NumRows(), samples*format.MaxCallchain)
	}
	fr, err := ipc.NewFileReader(bytes.NewReader(buf.Bytes()), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	if fr.NumRecords() < 2 {
		t.Errorf("%d rows in %d record batch, want batches of at most %d", n, fr.NumRecords(), stackBatchRows)
	}
	ids, depths := want.Column(0).(*array.Int64), want.Column(1).(*array.Int32)
	names := want.Column(3).(*array.String)
	row := 0
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() > stackBatchRows {
			t.Errorf("batch %d has %d rows, over %d", i, rec.NumRows(), stackBatchRows)
		}
		gi, gd, gn := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Int32), rec.Column(3).(*array.String)
		for k := 0; k < int(rec.NumRows()); k, row = k+1, row+1 {
			if gi.Value(k) != ids.Value(row) || gd.Value(k) != depths.Value(row) || gn.Value(k) != names.Value(row) {
				t.Fatalf("row %d: stack %d depth %d %q, want stack %d depth %d %q", row,
					gi.Value(k), gd.Value(k), gn.Value(k), ids.Value(row), depths.Value(row), names.Value(row))
			}
		}
	}
	if row != int(n) {
		t.Errorf("read back %d rows, want %d", row, n)
	}
}
