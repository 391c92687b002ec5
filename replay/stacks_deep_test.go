package replay

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestDeepStacksRetainIndexes reads a trace of distinct callchains of the
// most ips a file may hold over two kernel symbols (issue #18's deep-callchain
// shape) and checks that symbolizing every stack keeps a few bytes per ip, not
// a Frame per ip: the frames themselves are shared.
func TestDeepStacksRetainIndexes(t *testing.T) {
	const base = 0xffffffff81000000
	const samples = 40
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
	_, r := readAllText(t, path, Options{}, false)
	if got := r.StackCount(); got != samples {
		t.Fatalf("%d stacks, want %d", got, samples)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rec := r.StacksRecord()
	if got, want := rec.NumRows(), int64(samples*format.MaxCallchain); got != want {
		t.Fatalf("stacks record has %d rows, want %d", got, want)
	}
	rec.Release()
	runtime.GC()
	runtime.ReadMemStats(&after)
	ips := int64(samples * format.MaxCallchain)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("symbolizing %d ips retains %d bytes (%.1f per ip)", ips, retained, float64(retained)/float64(ips))
	if retained > 16*ips {
		t.Errorf("symbolizing %d ips retains %d bytes, over 16 per ip", ips, retained)
	}
	if f := r.Stack(3); len(f) != format.MaxCallchain || f[3].Name != "a" || f[2].Name != "a" || f[4].Name != "a" {
		t.Errorf("stack 3 frames 2-4 = %+v, want a, a, a", f[2:5])
	}
	runtime.KeepAlive(r)
}
