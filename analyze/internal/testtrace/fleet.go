package testtrace

import (
	"cmp"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// FleetHost describes one host's trace of a generated fleet.
type FleetHost struct {
	Host, Kernel string
	// Calls is the number of openat and of read calls.
	Calls int
	// Seed makes the host's durations, call count jitter and speed factor.
	Seed uint64
	// OpenatShift is added to every openat duration (ns): the regression a
	// fleet comparison must find.
	OpenatShift uint64
}

// FleetSources are the event sources of a fleet trace: openat and read
// syscall entry and exit tracepoints, two paired functions.
var FleetSources = []Source{
	{format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, "sys_enter_openat"},
	{format.Source{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_exit_openat"}, "sys_exit_openat"},
	{format.Source{Name: "syscalls:sys_enter_read", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_read"}, "sys_enter_read"},
	{format.Source{Name: "syscalls:sys_exit_read", Kind: format.KindTracepoint, Definition: "syscalls:sys_exit_read"}, "sys_exit_read"},
}

// WriteFleetHost writes one fleet trace to path: on each of 4 threads,
// alternating openat and read calls, 4*Calls events in all. Durations are
// a host speed factor (0.9-1.1) times 2 µs plus an exponential tail (mean
// 1 µs) for openat, 1.2 µs plus a 0.5 µs tail for read; openat gets
// OpenatShift on top. The calls are Calls ± 10 %, one per thread every
// 30-35 µs, so rates vary by host but not with the durations.
func WriteFleetHost(t testing.TB, path string, h FleetHost) {
	t.Helper()
	rng := rand.New(rand.NewPCG(h.Seed, h.Seed^0x9e3779b97f4a7c15))
	g := NewHost(t, path, h.Host, h.Kernel, FleetSources)
	var raws [4][]byte
	for i, v := range []map[string]any{
		{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0},
		{"__syscall_nr": 257, "ret": 3},
		{"__syscall_nr": 0, "fd": 3, "buf": 0x7ffe1000, "count": 4096},
		{"__syscall_nr": 0, "ret": 4096},
	} {
		raw, err := g.fmts[i].encode(1000, v)
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = raw
	}
	calls := h.Calls + int(float64(h.Calls)*0.1*(2*rng.Float64()-1))
	speed := 0.9 + 0.2*rng.Float64()
	const threads = 4
	var ts [threads]uint64
	for k := range ts {
		ts[k] = 1_000_000_000 + uint64(k)*1000
	}
	type ev struct {
		t   uint64
		src int
		tid uint32
	}
	evs := make([]ev, 0, 4*threads*calls)
	for i := 0; i < calls; i++ {
		for k := uint32(0); k < threads; k++ {
			start := ts[k]
			od := uint64(speed*(2000+1000*rng.ExpFloat64())) + h.OpenatShift
			rd := uint64(speed * (1200 + 500*rng.ExpFloat64()))
			evs = append(evs, ev{start, 0, 1000 + k}, ev{start + od, 1, 1000 + k},
				ev{start + od + 100, 2, 1000 + k}, ev{start + od + 100 + rd, 3, 1000 + k})
			// Calls start on a schedule that durations do not move, so
			// the call rate does not depend on the shift.
			ts[k] = max(start+30_000+uint64(math.Round(5000*rng.Float64())), start+od+100+rd+1000)
		}
	}
	// Written in time order, as the recorder merges its CPUs.
	slices.SortStableFunc(evs, func(a, b ev) int { return cmp.Compare(a.t, b.t) })
	s := format.Sample{PID: 1000}
	for _, e := range evs {
		s.Source, s.Time, s.TID, s.CPU, s.Raw = uint32(e.src), e.t, e.tid, e.tid%2, raws[e.src]
		if err := g.W.WriteSample(&s); err != nil {
			t.Fatal(err)
		}
		g.n[e.src]++
	}
	g.Close(nil)
}

// Rewrite copies the trace src to dst as if recorded on host: the same
// samples and metadata under another host name (a fleet built from one
// real recording).
func Rewrite(t testing.TB, src, dst, host string) {
	t.Helper()
	f, err := format.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Header
	h.Host.Hostname = host
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(out, &h, &format.WriterOptions{FrameBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w.AddSymbols(f.Symbols)
	w.AddUserFrames(f.UserFrames)
	for _, c := range f.Comms {
		w.AddComm(c)
	}
	for _, l := range f.Lost {
		w.AddLost(l)
	}
	it := f.Samples()
	for it.Next() {
		if err := w.WriteSample(it.Sample()); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(f.Stats); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
