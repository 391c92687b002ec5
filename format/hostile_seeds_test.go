package format

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// hostileSeeds are small versions of the hostile shapes of issue #18,
// written by the writer, for the fuzz targets to grow from: many comm
// records, many sources with distinct fields, callchains of the most ips
// a sample may hold, one format with more fields than MaxFields would
// let replay decode, two formats of one event name, and a repeated frame.
func hostileSeeds(t testing.TB) [][]byte {
	const hdr = "ID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	write := func(h *Header, fn func(w *Writer) error) []byte {
		var buf bytes.Buffer
		h.Application = "kpcap seed"
		h.Host = Host{OS: "linux", CPUs: 2}
		w, err := NewWriter(&buf, h, &WriterOptions{FrameBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	one := []Source{{Name: "g:e", Kind: KindTracepoint, Format: "name: e\n" + hdr}}
	var seeds [][]byte
	seeds = append(seeds, write(&Header{Sources: one}, func(w *Writer) error {
		for i := 0; i < 3000; i++ {
			if err := w.AddComm(Comm{PID: uint32(i), TID: uint32(i), Time: uint64(i), Comm: fmt.Sprint("c", i)}); err != nil {
				return err
			}
		}
		return w.WriteSample(&Sample{Time: 1, PID: 5, TID: 5, Raw: make([]byte, 8)})
	}))
	srcs := make([]Source, 300)
	for i := range srcs {
		srcs[i] = Source{Name: fmt.Sprintf("g:e%d", i), Kind: KindTracepoint,
			Format: fmt.Sprintf("name: e%d\n%s\tfield:int a%d;\toffset:8;\tsize:4;\tsigned:1;\n", i, hdr, i)}
	}
	seeds = append(seeds, write(&Header{Sources: srcs}, func(w *Writer) error {
		for i := range srcs {
			if err := w.WriteSample(&Sample{Source: uint32(i), Time: uint64(i + 1), Raw: make([]byte, 12)}); err != nil {
				return err
			}
		}
		return nil
	}))
	seeds = append(seeds, write(&Header{Sources: one, Capture: Capture{CallGraph: true}}, func(w *Writer) error {
		if err := w.AddSymbols([]Symbol{{Addr: 0x1000, Size: 0x100, Name: "a"}, {Addr: 0x1100, Size: 0x100, Name: "b"}}); err != nil {
			return err
		}
		ips := make([]uint64, MaxCallchain)
		for i := range ips {
			ips[i] = 0x1008 + uint64(i%2)*0x100
		}
		for i := 0; i < 2; i++ {
			if err := w.WriteSample(&Sample{Time: uint64(i + 1), Raw: make([]byte, 8), Callchain: ips}); err != nil {
				return err
			}
		}
		return nil
	}))
	var many strings.Builder
	many.WriteString("name: e\n" + hdr)
	for i := 0; i < 1100; i++ {
		fmt.Fprintf(&many, "\tfield:char f%d;\toffset:%d;\tsize:1;\tsigned:0;\n", i, 8+i)
	}
	same := []Source{{Name: "g:e", Kind: KindTracepoint, Format: many.String()},
		{Name: "g:e", Kind: KindTracepoint, Format: "name: e\n" + hdr + "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n"},
		{Name: "g:e", Kind: KindTracepoint, Format: "name: e\n" + hdr + "\tfield:char x[16];\toffset:8;\tsize:16;\tsigned:0;\n"}}
	seeds = append(seeds, write(&Header{Sources: same}, func(w *Writer) error {
		for i := 0; i < 30; i++ {
			if err := w.WriteSample(&Sample{Source: uint32(i % 3), Time: uint64(i + 1), Raw: make([]byte, 1200)}); err != nil {
				return err
			}
		}
		return nil
	}))
	// A sample frame copied again right after itself (commit 161d217 reads
	// it once): its samples must not come back twice.
	rep := write(&Header{Sources: one}, func(w *Writer) error {
		for i := 0; i < 600; i++ {
			if err := w.WriteSample(&Sample{Time: uint64(i + 1), PID: uint32(i), Raw: make([]byte, 8)}); err != nil {
				return err
			}
		}
		return nil
	})
	f := openBytes(t, rep)
	if len(f.Frames) < 2 {
		t.Fatalf("repeated-frame seed: %d sample frames, want at least 2", len(f.Frames))
	}
	fr := f.Frames[0]
	end := fr.Offset + fr.CSize
	seeds = append(seeds, append(append(append([]byte(nil), rep[:end]...), rep[fr.Offset:end]...), rep[end:]...))
	return seeds
}

// TestHostileSeeds: every hostile seed opens, with its samples; the last,
// a repeated frame, with each sample once and a warning counting the copy.
func TestHostileSeeds(t *testing.T) {
	seeds := hostileSeeds(t)
	for i, b := range seeds {
		f := openBytes(t, b)
		n := 0
		it := f.Samples()
		for it.Next() {
			n++
		}
		if i == len(seeds)-1 {
			ws := strings.Join(f.Warnings, "\n")
			if n != 600 || !strings.Contains(ws, "1 frames (") || !strings.Contains(ws, "repeat earlier frames") {
				t.Errorf("repeated-frame seed: %d samples (want 600), warnings %q", n, f.Warnings)
			}
			continue
		}
		if n == 0 || len(f.Warnings) > 0 {
			t.Errorf("seed %d: %d samples, warnings %q", i, n, f.Warnings)
		}
	}
}
