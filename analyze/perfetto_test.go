package analyze

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// pfExpect is what a trace holds, counted from replay and MeasureLatency
// independently of the export.
type pfExpect struct {
	Events      int64            `json:"events"`
	PerSource   map[string]int64 `json:"per_source"`
	Stacks      int64            `json:"stacks"` // events with a callstack
	Pairs       int64            `json:"pairs"`
	SchedSwitch int64            `json:"sched_switch"`
	Unmatched   int64            `json:"unmatched"` // unmatched entries + returns
	Instants    int64            `json:"instants"`
	Latency     *Latency         `json:"-"`
}

func expectOf(t testing.TB, path string, o replay.Options, lo LatencyOptions) pfExpect {
	t.Helper()
	e := pfExpect{PerSource: map[string]int64{}}
	r := openReplayOpts(t, path, o)
	defer r.Close()
	for r.Next() {
		rec := r.Record()
		b, err := newBatch(rec, sourceIndex(r.File()))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < b.n; i++ {
			name := b.probe.value(i)
			e.PerSource[name]++
			e.Events++
			if b.stackID(i) >= 0 {
				e.Stacks++
			}
			if name == "sched:sched_switch" {
				e.SchedSwitch++
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	lat, err := MeasureLatency(openReplayOpts(t, path, o), lo)
	if err != nil {
		t.Fatal(err)
	}
	e.Latency = lat
	for _, f := range lat.Functions {
		e.Pairs += int64(f.Count)
	}
	e.Unmatched = int64(lat.UnmatchedEntries + lat.UnmatchedReturns)
	e.Instants = e.Events - 2*e.Pairs - e.SchedSwitch
	return e
}

// exportPerfetto writes path as a Perfetto trace and decodes it.
func exportPerfetto(t testing.TB, path string, o replay.Options, po PerfettoOptions) ([]byte, *PerfettoResult, *pfDecoded) {
	t.Helper()
	r := openReplayOpts(t, path, o)
	defer r.Close()
	var buf bytes.Buffer
	res, err := WritePerfetto(r, &buf, po)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != int64(buf.Len()) {
		t.Errorf("result says %d bytes, wrote %d", res.Bytes, buf.Len())
	}
	d, err := pfDecode(buf.Bytes())
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return buf.Bytes(), res, d
}

// checkPerfetto compares a decoded export with what the trace holds.
func checkPerfetto(t *testing.T, path string, o replay.Options, po PerfettoOptions) (*pfDecoded, pfExpect, []pfSlice) {
	t.Helper()
	exp := expectOf(t, path, o, LatencyOptions{Start: po.Start, End: po.End})
	_, res, d := exportPerfetto(t, path, o, po)
	if d.clock != pfClockMonotonic || d.primary != pfClockMonotonic {
		t.Errorf("clock %d, primary %d: want MONOTONIC (3) for a monotonic capture", d.clock, d.primary)
	}
	if _, ok := d.snapshot[pfClockMonotonic]; !ok {
		t.Errorf("clock snapshot %v lacks MONOTONIC", d.snapshot)
	}
	begins := d.count(1, func(e *pfEvent) bool {
		return d.tracks[e.track] != nil && !strings.HasSuffix(d.tracks[e.track].name, "(sched_switch)")
	})
	cpuBegins := d.count(1, nil) - begins
	instants := d.count(3, nil)
	if int64(begins) != exp.Pairs || int64(cpuBegins) != exp.SchedSwitch || int64(instants) != exp.Instants {
		t.Errorf("slices %d, CPU slices %d, instants %d; the trace has %d pairs, %d sched_switch, %d other events",
			begins, cpuBegins, instants, exp.Pairs, exp.SchedSwitch, exp.Instants)
	}
	if res.Slices != exp.Pairs || res.CPUSlices != exp.SchedSwitch || res.Instants != exp.Instants || res.Events != exp.Events {
		t.Errorf("result %+v, want %+v", res, exp)
	}
	if got := d.count(3, func(e *pfEvent) bool { return e.unmatched }); int64(got) != exp.Unmatched {
		t.Errorf("%d unmatched instants, latency counts %d", got, exp.Unmatched)
	}
	if got := d.count(2, nil); got != d.count(1, nil) {
		t.Errorf("%d ends for %d begins", got, d.count(1, nil))
	}
	// Every event with a stack in the trace carries it: a sched_switch's on
	// its begin, a pair's on both ends.
	withStack := 0
	for _, e := range d.events {
		if len(e.stack) > 0 {
			withStack++
		}
	}
	if int64(withStack) != exp.Stacks {
		t.Errorf("%d events carry a callstack, the trace has %d", withStack, exp.Stacks)
	}
	sl, err := d.slices()
	if err != nil {
		t.Fatalf("slices do not nest: %v", err)
	}
	// Durations per function match latency's.
	durs := map[string][]uint64{}
	for _, s := range sl {
		if !strings.HasSuffix(d.trackName(s.track), "(sched_switch)") {
			durs[s.name] = append(durs[s.name], s.dur)
		}
	}
	for _, f := range exp.Latency.Functions {
		ds := durs[f.Name]
		if uint64(len(ds)) != f.Count {
			t.Errorf("%s: %d slices, latency pairs %d", f.Name, len(ds), f.Count)
			continue
		}
		if f.Count == 0 {
			continue
		}
		var sum float64
		for _, x := range ds {
			sum += float64(x)
		}
		if slices.Min(ds) != f.Min || slices.Max(ds) != f.Max || math.Abs(sum/float64(len(ds))-f.Mean) > 1e-6*f.Mean+1e-9 {
			t.Errorf("%s: slices min %d max %d mean %.1f; latency %d %d %.1f", f.Name, slices.Min(ds), slices.Max(ds), sum/float64(len(ds)), f.Min, f.Max, f.Mean)
		}
	}
	// events/s counters add up to each source's events (100 ms bins).
	rate := map[string]int64{}
	for _, e := range d.events {
		if e.typ == 4 && strings.HasSuffix(d.trackName(e.track), " events/s") {
			rate[strings.TrimSuffix(d.trackName(e.track), " events/s")] += e.counter
		}
	}
	for src, n := range exp.PerSource {
		if rate[src] != n*10 {
			t.Errorf("%s: events/s counters add up to %d/10 events, the trace has %d", src, rate[src], n)
		}
	}
	return d, exp, sl
}

func TestPerfettoCommittedKernelTraces(t *testing.T) {
	for _, k := range []string{"6.1", "6.12"} {
		t.Run(k, func(t *testing.T) {
			p := filepath.Join("..", "testdata", "kernels", "openat-"+k+".pcapng.zst")
			if _, err := os.Stat(p); err != nil {
				t.Fatal(err)
			}
			d, exp, sl := checkPerfetto(t, p, replay.Options{}, PerfettoOptions{})
			if exp.Pairs < 100 || exp.Stacks == 0 {
				t.Fatalf("trace too small to check: %+v", exp)
			}
			// Pairs carry the entry's filename and the return's value.
			named := 0
			for _, s := range sl {
				if s.name == "do_sys_openat2" && s.args["entry.filename"] != "" && s.args["return.ret"] != "" {
					named++
				}
			}
			if int64(named) != exp.Pairs {
				t.Errorf("%d of %d slices have entry.filename and return.ret", named, exp.Pairs)
			}
			// Thread tracks are named from the comms, inside process tracks.
			threads, namedThreads := 0, 0
			for _, tr := range d.tracks {
				if tr.thread {
					threads++
					if tr.name != "" {
						namedThreads++
					}
					if p := d.tracks[tr.parent]; p == nil || !p.process || p.pid != tr.pid {
						t.Errorf("thread %d: parent %+v", tr.tid, p)
					}
				}
			}
			if threads == 0 || namedThreads < threads*9/10 {
				t.Errorf("%d of %d thread tracks named", namedThreads, threads)
			}
			// Stacks are kernel stacks with the probed function on top.
			for _, s := range sl {
				if len(s.stack) > 0 && !strings.HasPrefix(s.stack[len(s.stack)-1], "do_sys_openat2") {
					t.Errorf("slice stack %v: innermost frame is not do_sys_openat2", s.stack)
					break
				}
			}
			t.Logf("%d events: %d slices, %d instants, %d stacks, %d tracks", exp.Events, exp.Pairs, exp.Instants, exp.Stacks, len(d.tracks))
		})
	}
}

// TestPerfettoNesting exports the synthetic openat trace: uprobe pairs nested
// in syscall pairs, recursion every 5th call, an unmatched return, an entry
// open at the end, and a loss report.
func TestPerfettoNesting(t *testing.T) {
	p := testtrace.Openat(t, filepath.Join(t.TempDir(), "o.pcapng.zst"), "6.18.0", "", 500, 1, 7)
	d, exp, sl := checkPerfetto(t, p, replay.Options{}, PerfettoOptions{})
	if exp.Unmatched != 2 {
		t.Fatalf("synthetic trace has %d unmatched, want 2", exp.Unmatched)
	}
	depth := map[string]int{}
	for _, s := range sl {
		depth[s.name] = max(depth[s.name], s.depth)
	}
	// syscall:openat at depth 0, uprobe inside, the recursive call deeper.
	if depth["syscall:openat"] != 0 || depth["/bin/bash:0x30000"] != 2 {
		t.Errorf("max depths %v, want syscall:openat 0 and the recursive uprobe at 2", depth)
	}
	var lost int64
	for _, e := range d.events {
		if e.typ == 4 && strings.HasPrefix(d.trackName(e.track), "lost samples, CPU 1") {
			lost = e.counter
		}
	}
	if lost != 7 {
		t.Errorf("lost counter on CPU 1 ends at %d, want 7", lost)
	}
	// A window and a source filter narrow the export like the other outputs.
	_, _, _ = checkPerfetto(t, p, replay.Options{Probes: []string{"kpcap:*"}, Since: 1_000_000_000 + 100*10_000, Until: 1_000_000_000 + 300*10_000}, PerfettoOptions{})
	// Explicit pairs, as analyze latency --start/--end.
	_, exp2, _ := checkPerfetto(t, p, replay.Options{}, PerfettoOptions{Start: []string{"syscalls:sys_enter_openat"}, End: []string{"kpcap:open_ret"}})
	if exp2.Pairs == 0 {
		t.Errorf("explicit pairs: none")
	}
}

// TestPerfettoEqualStart writes nested calls that start in the same
// nanosecond, which only the held, outermost-first order keeps nested.
func TestPerfettoEqualStart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "eq.pcapng.zst")
	g := testtrace.New(t, p, "6.18.0", []testtrace.Source{
		{Src: srcOf("syscalls:sys_enter_openat", 1), Format: "sys_enter_openat"},
		{Src: srcOf("syscalls:sys_exit_openat", 1), Format: "sys_exit_openat"},
		{Src: srcOfUprobe("kpcap:open", false), Format: "uprobe_open"},
		{Src: srcOfUprobe("kpcap:open_ret", true), Format: "uretprobe_open"},
	})
	enter := map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 1, "flags": 0}
	for i := range 3 {
		ts := uint64(1e9 + i*1000)
		g.Sample(0, ts, 0, 10, 10, enter, nil)
		g.Sample(2, ts, 0, 10, 10, map[string]any{"dfd": -100, "filename": "/x", "flags": 0}, nil)
		g.Sample(3, ts+100, 0, 10, 10, map[string]any{"ret": 3}, nil)
		g.Sample(1, ts+100, 0, 10, 10, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
	}
	g.Close(nil)
	_, _, sl := checkPerfetto(t, p, replay.Options{}, PerfettoOptions{})
	for _, s := range sl {
		if want := map[string]int{"syscall:openat": 0, "/bin/bash:0x30000": 1}[s.name]; s.depth != want {
			t.Errorf("%s at %d: depth %d, want %d", s.name, s.start, s.depth, want)
		}
	}
}

func TestPerfettoMaxHeld(t *testing.T) {
	// A call that never returns below many completed ones: held pairs are
	// released in bounded batches and still nest.
	p := filepath.Join(t.TempDir(), "held.pcapng.zst")
	g := testtrace.New(t, p, "6.18.0", []testtrace.Source{
		{Src: srcOf("syscalls:sys_enter_openat", 1), Format: "sys_enter_openat"},
		{Src: srcOf("syscalls:sys_exit_openat", 1), Format: "sys_exit_openat"},
		{Src: srcOfUprobe("kpcap:open", false), Format: "uprobe_open"},
		{Src: srcOfUprobe("kpcap:open_ret", true), Format: "uretprobe_open"},
	})
	g.Sample(0, 1e9, 0, 10, 10, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 1, "flags": 0}, nil)
	n := maxHeldPairs + 100
	for i := range n {
		ts := uint64(1e9 + 10 + i*100)
		g.Sample(2, ts, 0, 10, 10, map[string]any{"dfd": -100, "filename": "/x", "flags": 0}, nil)
		g.Sample(3, ts+50, 0, 10, 10, map[string]any{"ret": 3}, nil)
	}
	g.Close(nil)
	_, exp, _ := checkPerfetto(t, p, replay.Options{}, PerfettoOptions{})
	if exp.Pairs != int64(n) || exp.Unmatched != 1 {
		t.Fatalf("pairs %d unmatched %d, want %d and 1", exp.Pairs, exp.Unmatched, n)
	}
}

func TestPerfettoClockUnknown(t *testing.T) {
	if _, err := clockID("tai"); err == nil || !strings.Contains(err.Error(), `"tai"`) {
		t.Fatalf("clock tai: %v", err)
	}
	for name, id := range map[string]uint64{"monotonic": 3, "": 3, "boottime": 6, "realtime": 1, "monotonic_raw": 5} {
		if got, err := clockID(name); err != nil || got != id {
			t.Errorf("clock %q: %d %v, want %d", name, got, err, id)
		}
	}
}

func srcOf(name string, _ int) format.Source {
	return format.Source{Name: name, Kind: format.KindTracepoint, Definition: name}
}

func srcOfUprobe(name string, ret bool) format.Source {
	k := format.KindUprobe
	if ret {
		k = format.KindUretprobe
	}
	return format.Source{Name: name, Kind: k, Definition: name, Target: "/bin/bash:0x30000"}
}

// TestPerfettoTrackIdentity: a tid reused by another process gets its own
// track, and a thread renamed by exec is declared again with its new name.
func TestPerfettoTrackIdentity(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ids.pcapng.zst")
	g := testtrace.New(t, p, "6.18.0", []testtrace.Source{
		{Src: srcOf("sched:sched_process_exec", 1), Format: "sched_process_exec"},
	})
	g.W.AddComm(format.Comm{PID: 50, TID: 50, Time: 0, Comm: "sh"})
	g.W.AddComm(format.Comm{PID: 50, TID: 50, Time: 2e9, Comm: "cat"})
	g.W.AddComm(format.Comm{PID: 60, TID: 50, Time: 3e9, Comm: "other"})
	exec := map[string]any{"filename": "/bin/x", "pid": 50, "old_pid": 50}
	g.Sample(0, 1e9, 0, 50, 50, exec, nil)
	g.Sample(0, 2e9+1, 0, 50, 50, exec, nil)
	g.Sample(0, 3e9+1, 1, 60, 50, exec, nil)
	g.Close(nil)
	d, _, _ := checkPerfetto(t, p, replay.Options{}, PerfettoOptions{})
	names := map[uint64][]string{}
	for _, e := range d.events {
		if e.typ == 3 {
			tr := d.tracks[e.track]
			names[e.track] = append(names[e.track], fmt.Sprintf("%d/%d", tr.pid, tr.tid))
		}
	}
	if len(names) != 2 {
		t.Errorf("instants on %d tracks %v, want 2 (pid 50 and pid 60 for tid 50)", len(names), names)
	}
	var threadNames []string
	for _, tr := range d.tracks {
		if tr.thread {
			threadNames = append(threadNames, tr.name)
		}
	}
	slices.Sort(threadNames)
	if !slices.Equal(threadNames, []string{"cat", "other"}) {
		t.Errorf("thread names %v, want the latest of each track: cat, other", threadNames)
	}
}

// TestPerfettoDeterministic: one trace gives the same bytes every time,
// entries still open at the end included.
func TestPerfettoDeterministic(t *testing.T) {
	p := testtrace.Openat(t, filepath.Join(t.TempDir(), "o.pcapng.zst"), "6.18.0", "", 200, 1, 3)
	a, _, _ := exportPerfetto(t, p, replay.Options{}, PerfettoOptions{})
	for range 3 {
		if b, _, _ := exportPerfetto(t, p, replay.Options{}, PerfettoOptions{}); !bytes.Equal(a, b) {
			t.Fatalf("two exports of one trace differ (%d and %d bytes)", len(a), len(b))
		}
	}
}
