package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// The hostile shapes of issue #18: small crafted files that once made
// readers panic, run for minutes or take gigabytes. Each is built here with
// the format writer, at the size the outside check used where the writer
// can express it.

// tpHeader is the common part of a tracefs format.
const tpHeader = "ID: 1\nformat:\n" +
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"

// hostileShape is one crafted file.
type hostileShape struct {
	name  string
	build func(t testing.TB, path string)
}

// hostileShapes lists every shape; scale 1 is the outside check's size,
// smaller scales shrink the counts for quick runs.
func hostileShapes(scale float64) []hostileShape {
	n := func(full int) int { return max(int(float64(full)*scale), 2) }
	return []hostileShape{
		{"same-name-formats", func(t testing.TB, p string) { buildSameName(t, p, n(20000)) }},
		{"deep-callchains", func(t testing.TB, p string) { buildDeepCallchains(t, p, n(1000)) }},
		{"60k-fields", func(t testing.TB, p string) { buildManyFields(t, p, 60000, n(1000)) }},
		{"overlapping-var-fields", func(t testing.TB, p string) { buildOverlap(t, p, 1000, 60000, n(20)) }},
		{"30k-sources", func(t testing.TB, p string) { buildManySources(t, p, n(30000)) }},
		{"9M-comms", func(t testing.TB, p string) { buildManyComms(t, p, n(9_000_000), n(100000)) }},
	}
}

// writeHostile writes a trace of h through fn and closes it.
func writeHostile(t testing.TB, path string, h *format.Header, fn func(w *format.Writer) error) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if h.Host.CPUs == 0 {
		h.Host = format.Host{Hostname: "hostile", Kernel: "6.1.0", Machine: "x86_64", OS: "linux", CPUs: 4, PageSize: 4096}
	}
	h.Application = "kpcap hostile-test"
	w, err := format.NewWriter(fh, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// buildSameName: two formats of one event name whose field x is an int in
// one and a char array in the other.
func buildSameName(t testing.TB, path string, samples int) {
	h := &format.Header{Sources: []format.Source{
		{Name: "g:e", Kind: format.KindTracepoint, Format: "name: e\n" + tpHeader + "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n"},
		{Name: "g:e", Kind: format.KindTracepoint, Format: "name: e\n" + tpHeader + "\tfield:char x[16];\toffset:8;\tsize:16;\tsigned:0;\n"},
	}}
	writeHostile(t, path, h, func(w *format.Writer) error {
		raw := make([]byte, 24)
		copy(raw[8:], "hello")
		for i := 0; i < samples; i++ {
			if err := w.WriteSample(&format.Sample{Source: uint32(i % 2), Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw}); err != nil {
				return err
			}
		}
		return nil
	})
}

// buildDeepCallchains: samples whose callchains have the most ips a file
// may hold, alternating between two kernel symbols.
func buildDeepCallchains(t testing.TB, path string, samples int) {
	h := &format.Header{
		Sources: []format.Source{{Name: "g:e", Kind: format.KindTracepoint, Format: "name: e\n" + tpHeader}},
		Capture: format.Capture{CallGraph: true},
	}
	const base = 0xffffffff81000000
	writeHostile(t, path, h, func(w *format.Writer) error {
		if err := w.AddSymbols([]format.Symbol{{Addr: base, Size: 0x100, Name: "a"}, {Addr: base + 0x100, Size: 0x100, Name: "b"}}); err != nil {
			return err
		}
		ips := make([]uint64, format.MaxCallchain)
		for i := range ips {
			ips[i] = base + uint64(i%2)*0x100 + 8
		}
		for i := 0; i < samples; i++ {
			// Every sample differs in one frame, so no two stacks are alike.
			ips[i%len(ips)] ^= 0x100
			s := &format.Sample{Time: uint64(i + 1), PID: 1, TID: 1, Raw: make([]byte, 8), Callchain: ips}
			if err := w.WriteSample(s); err != nil {
				return err
			}
		}
		return nil
	})
}

// buildManyFields: one format with nfields int fields.
func buildManyFields(t testing.TB, path string, nfields, samples int) {
	var b strings.Builder
	b.WriteString("name: e\n" + tpHeader)
	for i := 0; i < nfields; i++ {
		fmt.Fprintf(&b, "\tfield:int f%d;\toffset:%d;\tsize:4;\tsigned:1;\n", i, 8+4*(i%1000))
	}
	h := &format.Header{Sources: []format.Source{{Name: "g:e", Kind: format.KindTracepoint, Format: b.String()}}}
	writeHostile(t, path, h, func(w *format.Writer) error {
		raw := make([]byte, 8+4*1000)
		for i := 0; i < samples; i++ {
			if err := w.WriteSample(&format.Sample{Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw}); err != nil {
				return err
			}
		}
		return nil
	})
}

// buildOverlap: nfields __data_loc fields all pointing at one region of
// size bytes, so that each row claims nfields*size bytes.
func buildOverlap(t testing.TB, path string, nfields, size, samples int) {
	var b strings.Builder
	b.WriteString("name: e\n" + tpHeader)
	for i := 0; i < nfields; i++ {
		fmt.Fprintf(&b, "\tfield:__data_loc u8[] d%d;\toffset:%d;\tsize:4;\tsigned:0;\n", i, 8+4*i)
	}
	raw := make([]byte, 8+4*nfields+size)
	for i := 0; i < nfields; i++ {
		binary.LittleEndian.PutUint32(raw[8+4*i:], uint32(size)<<16|uint32(8+4*nfields))
	}
	h := &format.Header{Sources: []format.Source{{Name: "g:e", Kind: format.KindTracepoint, Format: b.String()}}}
	writeHostile(t, path, h, func(w *format.Writer) error {
		for i := 0; i < samples; i++ {
			if err := w.WriteSample(&format.Sample{Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw}); err != nil {
				return err
			}
		}
		return nil
	})
}

// buildManySources: n sources whose formats all have distinct field
// names, one sample each.
func buildManySources(t testing.TB, path string, n int) {
	srcs := make([]format.Source, n)
	for i := range srcs {
		srcs[i] = format.Source{Name: fmt.Sprintf("g:e%d", i), Kind: format.KindTracepoint,
			Format: fmt.Sprintf("name: e%d\n%s\tfield:int a%d;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char s%d[8];\toffset:12;\tsize:8;\tsigned:0;\n", i, tpHeader, i, i)}
	}
	writeHostile(t, path, &format.Header{Sources: srcs}, func(w *format.Writer) error {
		raw := make([]byte, 20)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(raw[8:], uint32(i))
			if err := w.WriteSample(&format.Sample{Source: uint32(i), Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw}); err != nil {
				return err
			}
		}
		return nil
	})
}

// buildWideOverlap: buildManySources' sources (two distinct fields each),
// and samples cycling through them in frames of perFrame that two by two
// interleave in time, so that no frame's rows can be handed on before the
// next frame's are merged with them.
func buildWideOverlap(t testing.TB, path string, nsrc, samples, perFrame int) {
	srcs := make([]format.Source, nsrc)
	for i := range srcs {
		srcs[i] = format.Source{Name: fmt.Sprintf("g:e%d", i), Kind: format.KindTracepoint,
			Format: fmt.Sprintf("name: e%d\n%s\tfield:int a%d;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:char s%d[8];\toffset:12;\tsize:8;\tsigned:0;\n", i, tpHeader, i, i)}
	}
	writeHostile(t, path, &format.Header{Sources: srcs}, func(w *format.Writer) error {
		raw := make([]byte, 20)
		for k := 0; k < samples; k++ {
			pair, f, i := k/(2*perFrame), k/perFrame%2, k%perFrame
			binary.LittleEndian.PutUint32(raw[8:], uint32(k))
			copy(raw[12:], fmt.Sprintf("v%d", k%1000))
			s := &format.Sample{Source: uint32(k % nsrc), Time: uint64(pair*2*perFrame + 2*i + f + 1), PID: 1, TID: 1, Raw: raw}
			if err := w.WriteSample(s); err != nil {
				return err
			}
			if i == perFrame-1 {
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// buildManyComms: ncomms comm records of distinct threads and names, and
// samples of threads spread over them.
func buildManyComms(t testing.TB, path string, ncomms, samples int) {
	h := &format.Header{Sources: []format.Source{{Name: "g:e", Kind: format.KindTracepoint, Format: "name: e\n" + tpHeader}}}
	writeHostile(t, path, h, func(w *format.Writer) error {
		for i := 0; i < ncomms; i++ {
			tid := uint32(i%4_000_000 + 1)
			if err := w.AddComm(format.Comm{PID: tid, TID: tid, Time: uint64(i), Comm: fmt.Sprintf("c%d", i)}); err != nil {
				return err
			}
		}
		raw := make([]byte, 8)
		for i := 0; i < samples; i++ {
			tid := uint32(i*7919%4_000_000 + 1)
			if err := w.WriteSample(&format.Sample{Time: uint64(ncomms + i), PID: tid, TID: tid, CPU: uint32(i % 4), Raw: raw}); err != nil {
				return err
			}
		}
		return nil
	})
}

// hostileCommands are every reading command, with the arguments that make
// it read path; out is a scratch directory for output files.
func hostileCommands(path, out string) [][]string {
	return [][]string{
		{"info", path},
		{"info", "--json", path},
		{"replay", path},
		{"replay", "--format", "json", path},
		{"replay", "-o", filepath.Join(out, "o.parquet"), path},
		{"replay", "-o", filepath.Join(out, "o.arrow"), path},
		{"analyze", "summary", path},
		{"analyze", "latency", path},
		{"replay", "--format", "perfetto", "-o", filepath.Join(out, "o.pftrace"), path},
		{"analyze", "flame", "-o", filepath.Join(out, "f.folded"), "--svg", filepath.Join(out, "f.svg"), path},
		{"analyze", "diff", "--svg", filepath.Join(out, "d.svg"), path, path},
		{"analyze", "report", "-o", filepath.Join(out, "r.html"), path},
	}
}
