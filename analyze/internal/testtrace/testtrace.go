// Package testtrace writes synthetic kpcap traces for tests: samples are
// encoded against real tracefs format files (formats/, copied from a 6.18
// kernel) and written with format.Writer, so they go through the same
// reader, decoder and symbolizer as recorded traces.
package testtrace

import (
	"embed"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

//go:embed formats/*.format
var formats embed.FS

// evFormat is the part of a tracefs format file the encoder needs.
type evFormat struct {
	text   string
	fields map[string]fmtField
	size   int // end of the fixed part
}

type fmtField struct {
	offset, size int
	dataLoc      bool
}

var fieldRe = regexp.MustCompile(`field:([^;]*?)\s+([A-Za-z_][A-Za-z0-9_]*)(\[\d*\])?;\s*offset:(\d+);\s*size:(\d+);`)

// Format returns the text of formats/NAME.format.
func Format(name string) (string, error) {
	b, err := formats.ReadFile("formats/" + name + ".format")
	return string(b), err
}

func loadFormat(name string) (evFormat, error) {
	text, err := Format(name)
	if err != nil {
		return evFormat{}, err
	}
	f := evFormat{text: text, fields: map[string]fmtField{}}
	for _, m := range fieldRe.FindAllStringSubmatch(f.text, -1) {
		off, _ := strconv.Atoi(m[4])
		size, _ := strconv.Atoi(m[5])
		f.fields[m[2]] = fmtField{off, size, strings.HasPrefix(m[1], "__data_loc")}
		f.size = max(f.size, off+size)
	}
	if len(f.fields) < 5 {
		return f, fmt.Errorf("format %s: parsed only %d fields", name, len(f.fields))
	}
	return f, nil
}

// encode builds a PERF_SAMPLE_RAW payload: little-endian fields at their
// offsets, __data_loc strings appended after the fixed part.
func (f evFormat) encode(pid uint32, vals map[string]any) ([]byte, error) {
	raw := make([]byte, f.size)
	binary.LittleEndian.PutUint32(raw[4:], pid)
	for name, v := range vals {
		fd, ok := f.fields[name]
		if !ok {
			return nil, fmt.Errorf("no field %q", name)
		}
		if fd.dataLoc {
			s := v.(string) + "\x00"
			binary.LittleEndian.PutUint32(raw[fd.offset:], uint32(len(s))<<16|uint32(len(raw)))
			raw = append(raw, s...)
			continue
		}
		var u uint64
		switch x := v.(type) {
		case int:
			u = uint64(x)
		case int64:
			u = uint64(x)
		case uint64:
			u = x
		default:
			return nil, fmt.Errorf("field %q: unsupported value %T", name, v)
		}
		switch fd.size {
		case 1:
			raw[fd.offset] = byte(u)
		case 2:
			binary.LittleEndian.PutUint16(raw[fd.offset:], uint16(u))
		case 4:
			binary.LittleEndian.PutUint32(raw[fd.offset:], uint32(u))
		case 8:
			binary.LittleEndian.PutUint64(raw[fd.offset:], u)
		}
	}
	return raw, nil
}

// Gen writes one trace file.
type Gen struct {
	t    testing.TB
	f    *os.File
	W    *format.Writer // for metadata: AddSymbols, AddComm, AddLost, ...
	fmts []evFormat
	n    []uint64
	lost map[uint32]uint64 // per source: loss records written with Lost
}

// Source is one event source and the format file (under formats/) of its events.
type Source struct {
	Src    format.Source
	Format string
}

// Perf callchain context markers.
const (
	CtxKernel = ^uint64(128) + 1 // PERF_CONTEXT_KERNEL (-128)
	CtxUser   = ^uint64(512) + 1 // PERF_CONTEXT_USER (-512)
)

// New creates path with a header for kernel and srcs.
func New(t testing.TB, path, kernel string, srcs []Source) *Gen {
	t.Helper()
	return newGen(t, path, "testhost", kernel, srcs, nil)
}

// NewHost is New for a trace recorded on host.
func NewHost(t testing.TB, path, host, kernel string, srcs []Source) *Gen {
	t.Helper()
	return newGen(t, path, host, kernel, srcs, nil)
}

// NewInSet is New for one file of a set (set may be nil).
func NewInSet(t testing.TB, path, kernel string, srcs []Source, set *format.SetInfo) *Gen {
	t.Helper()
	return newGen(t, path, "testhost", kernel, srcs, set)
}

func newGen(t testing.TB, path, host, kernel string, srcs []Source, set *format.SetInfo) *Gen {
	t.Helper()
	g := &Gen{t: t}
	h := &format.Header{
		Set:         set,
		Application: "kpcap test",
		Host:        format.Host{Hostname: host, Kernel: kernel, Machine: "x86_64", OS: "linux", CPUs: 2, PageSize: 4096, WallOffsetNS: 1_700_000_000_000_000_000},
		Capture:     format.Capture{Args: []string{"kpcap", "record", "-e", "test"}, Clock: "monotonic", CallGraph: true},
	}
	for _, s := range srcs {
		ef, err := loadFormat(s.Format)
		if err != nil {
			t.Fatal(err)
		}
		s.Src.Format = ef.text
		h.Sources = append(h.Sources, s.Src)
		g.fmts = append(g.fmts, ef)
	}
	g.n = make([]uint64, len(srcs))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	g.f = f
	g.W, err = format.NewWriter(f, h, &format.WriterOptions{FrameBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Sample writes one event of source src with field values vals.
func (g *Gen) Sample(src uint32, ts uint64, cpu, pid, tid uint32, vals map[string]any, chain []uint64) {
	g.t.Helper()
	raw, err := g.fmts[src].encode(pid, vals)
	if err != nil {
		g.t.Fatal(err)
	}
	s := &format.Sample{Source: src, Time: ts, CPU: cpu, PID: pid, TID: tid, Raw: raw, Callchain: chain}
	if err := g.W.WriteSample(s); err != nil {
		g.t.Fatal(err)
	}
	g.n[src]++
}

// Lost writes a loss record; Close counts it in its source's dropped
// count, as kpcap's recorder does.
func (g *Gen) Lost(l format.Lost) {
	g.t.Helper()
	if err := g.W.AddLost(l); err != nil {
		g.t.Fatal(err)
	}
	if g.lost == nil {
		g.lost = map[uint32]uint64{}
	}
	g.lost[l.Source] += l.Count
}

// Close writes per-source statistics (with dropped counts, plus the loss
// records written with Lost) and closes the file.
func (g *Gen) Close(dropped map[uint32]uint64) {
	g.t.Helper()
	var st []format.Stats
	for i, n := range g.n {
		st = append(st, format.Stats{Source: uint32(i), Received: n, Dropped: dropped[uint32(i)] + g.lost[uint32(i)]})
	}
	if err := g.W.Close(st); err != nil {
		g.t.Fatal(err)
	}
	if err := g.f.Close(); err != nil {
		g.t.Fatal(err)
	}
}

// KernelSyms are the kernel symbols of the Openat traces; do_sys_openat2
// carries suffix (e.g. ".isra.0"), as compilers name clones differently per
// kernel build.
func KernelSyms(suffix string) []format.Symbol {
	return []format.Symbol{
		{Addr: 0xffffffff81000000, Size: 0x100, Name: "entry_SYSCALL_64"},
		{Addr: 0xffffffff81001000, Size: 0x100, Name: "do_syscall_64"},
		{Addr: 0xffffffff81002000, Size: 0x100, Name: "__x64_sys_openat"},
		{Addr: 0xffffffff81003000, Size: 0x100, Name: "do_sys_openat2" + suffix},
		{Addr: 0xffffffff81004000, Size: 0x100, Name: "path_openat"},
	}
}

// OpenatDur is the duration of the i-th openat of an Openat trace with slow=1.
func OpenatDur(i int) uint64 { return uint64(1000 + (i%10)*100 + i%7) }

// Openat writes a trace of `cat` processes calling openat n times: enter and
// exit tracepoints (a kernel+user stack on enter), uprobe/uretprobe pairs
// nested inside with recursion every 5th call, an exec event every 100
// calls, one unmatched exit and one entry still open at the end, and a loss
// record of lost samples on CPU 1 (if lost > 0). slow multiplies the openat
// durations (a "regression").
func Openat(t testing.TB, path, kernel, suffix string, n int, slow uint64, lost uint64) string {
	t.Helper()
	g := New(t, path, kernel, []Source{
		{format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, "sys_enter_openat"},
		{format.Source{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_exit_openat"}, "sys_exit_openat"},
		{format.Source{Name: "kpcap:open", Kind: format.KindUprobe, Definition: "p:open /bin/bash:0x30000", Target: "/bin/bash:0x30000"}, "uprobe_open"},
		{format.Source{Name: "kpcap:open_ret", Kind: format.KindUretprobe, Definition: "r:open_ret /bin/bash:0x30000", Target: "/bin/bash:0x30000"}, "uretprobe_open"},
		{format.Source{Name: "sched:sched_process_exec", Kind: format.KindTracepoint}, "sched_process_exec"},
	})
	g.W.AddSymbols(KernelSyms(suffix))
	g.W.AddUserFrames([]format.UserFrame{
		{PID: 100, Addr: 0x401000, Name: "main", Object: "/usr/bin/cat"},
		{PID: 100, Addr: 0x7f0000001000, Name: "__libc_open64", Object: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{PID: 200, Addr: 0x401000, Name: "main", Object: "/usr/bin/cat"},
		{PID: 200, Addr: 0x7f0000001000, Name: "__libc_open64", Object: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
	})
	g.W.AddComm(format.Comm{PID: 100, TID: 100, Comm: "cat"})
	g.W.AddComm(format.Comm{PID: 200, TID: 200, Comm: "cat"})
	g.W.AddComm(format.Comm{PID: 200, TID: 201, Comm: "cat"})
	chain := []uint64{CtxKernel, 0xffffffff81003010, 0xffffffff81002010, 0xffffffff81001010, 0xffffffff81000010,
		CtxUser, 0x7f0000001000, 0x401000}
	ts := uint64(1_000_000_000)
	for i := range n {
		pid, tid := uint32(100), uint32(100)
		if i%2 == 1 {
			pid, tid = 200, 201
		}
		cpu := uint32(i % 2)
		dur := OpenatDur(i) * slow
		g.Sample(0, ts, cpu, pid, tid, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, chain)
		g.Sample(2, ts+10, cpu, pid, tid, map[string]any{"dfd": -100, "filename": "/etc/passwd", "flags": 0}, nil)
		if i%5 == 0 {
			g.Sample(2, ts+20, cpu, pid, tid, map[string]any{"dfd": -100, "filename": "/etc/group", "flags": 0}, nil)
			g.Sample(3, ts+30, cpu, pid, tid, map[string]any{"ret": 3}, nil)
		}
		g.Sample(3, ts+dur/2, cpu, pid, tid, map[string]any{"ret": 3}, nil)
		g.Sample(1, ts+dur, cpu, pid, tid, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
		ts += 10_000
		if i%100 == 0 {
			g.Sample(4, ts, cpu, pid, tid, map[string]any{"filename": "/usr/bin/cat", "pid": int(pid), "old_pid": int(pid)}, nil)
		}
	}
	g.Sample(1, ts, 0, 300, 300, map[string]any{"__syscall_nr": 257, "ret": -2}, nil)
	g.Sample(0, ts+1, 1, 301, 301, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 1, "flags": 0}, nil)
	if lost > 0 {
		g.Lost(format.Lost{Time: 1_000_000_000 + uint64(n/2)*10_000, CPU: 1, Source: 0, Count: lost})
	}
	g.Close(nil)
	return path
}
