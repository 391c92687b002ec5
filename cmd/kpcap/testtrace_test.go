package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// The synthetic traces of analyze/internal/testtrace reach these tests
// through its command, kpcap-testtrace (an internal package is out of
// cmd/kpcap's reach): the jobs below are its input, one JSON object each.

// traceJob is one trace for kpcap-testtrace to write; one field is set.
type traceJob struct {
	Openat         *openatSpec         `json:"openat,omitempty"`
	FleetHost      *fleetHostSpec      `json:"fleet_host,omitempty"`
	Rewrite        *rewriteSpec        `json:"rewrite,omitempty"`
	RewriteShifted *rewriteShiftedSpec `json:"rewrite_shifted,omitempty"`
	Trace          *traceSpec          `json:"trace,omitempty"`
}

// openatSpec is testtrace.Openat's trace: n openat calls of `cat`
// processes with nested uprobes, slow times the durations, a loss record
// of lost samples if lost > 0.
type openatSpec struct {
	Path, Kernel, Suffix string
	N                    int
	Slow, Lost           uint64
}

// fleetHost is testtrace.FleetHost: one host of a generated fleet.
type fleetHost struct {
	Host, Kernel string
	Calls        int
	Seed         uint64
	OpenatShift  uint64
}

type fleetHostSpec struct {
	Path string
	Host fleetHost
}

// rewriteSpec copies the trace Src to Dst under another host name.
type rewriteSpec struct{ Src, Dst, Host string }

// rewriteShiftedSpec is testtrace.RewriteShifted: the pairs ending in one
// of ShiftReturns (source names) get Shift ns longer.
type rewriteShiftedSpec struct {
	Src, Dst, Host, Kernel string
	Scale                  float64
	Shift                  uint64
	ShiftReturns           []string `json:"shift_returns"`
}

// traceSource is testtrace.Source: an event source and the name of its
// tracefs format file.
type traceSource struct {
	Src    format.Source
	Format string
}

// traceSpec is a trace written record by record (traceGen builds it).
type traceSpec struct {
	Path, Host, Kernel string
	Sources            []traceSource
	Set                *format.SetInfo
	Ops                []traceOp
	Dropped            map[uint32]uint64
}

type traceOp struct {
	Comm   *format.Comm `json:",omitempty"`
	Sample *traceSample `json:",omitempty"`
	Lost   *format.Lost `json:",omitempty"`
	End    *uint64      `json:",omitempty"`
}

type traceSample struct {
	Source        uint32
	Time          uint64
	CPU, PID, TID uint32
	Fields        map[string]any
	Callchain     []uint64
}

var testtraceBin struct {
	once     sync.Once
	dir, bin string
	err      error
	out      []byte
}

// TestMain removes the kpcap-testtrace binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if testtraceBin.dir != "" {
		os.RemoveAll(testtraceBin.dir)
	}
	os.Exit(code)
}

// writeTraces runs kpcap-testtrace (built once per test binary) on jobs.
func writeTraces(t testing.TB, jobs ...traceJob) {
	t.Helper()
	b := &testtraceBin
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "kpcap-testtrace"); b.err != nil {
			return
		}
		b.bin = filepath.Join(b.dir, "kpcap-testtrace")
		b.out, b.err = exec.Command("go", "build", "-o", b.bin, "github.com/kpcap/kpcap/analyze/internal/testtrace/cmd/kpcap-testtrace").CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("building kpcap-testtrace: %v\n%s", b.err, b.out)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, j := range jobs {
		if err := enc.Encode(j); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(b.bin)
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kpcap-testtrace: %v\n%s", err, out)
	}
}

// writeOpenat writes testtrace.Openat's trace to path and returns path.
func writeOpenat(t testing.TB, path, kernel, suffix string, n int, slow, lost uint64) string {
	t.Helper()
	writeTraces(t, traceJob{Openat: &openatSpec{Path: path, Kernel: kernel, Suffix: suffix, N: n, Slow: slow, Lost: lost}})
	return path
}

// traceGen collects the records of one trace; Close writes it.
type traceGen struct {
	t    testing.TB
	spec traceSpec
}

// newTrace starts a trace of srcs recorded on kernel (host "testhost").
func newTrace(t testing.TB, path, kernel string, srcs []traceSource) *traceGen {
	return &traceGen{t: t, spec: traceSpec{Path: path, Kernel: kernel, Sources: srcs}}
}

// newTraceInSet is newTrace for one file of a set.
func newTraceInSet(t testing.TB, path, kernel string, srcs []traceSource, set *format.SetInfo) *traceGen {
	g := newTrace(t, path, kernel, srcs)
	g.spec.Set = set
	return g
}

// Sample adds one event of source src with field values vals (strings or
// integers).
func (g *traceGen) Sample(src uint32, ts uint64, cpu, pid, tid uint32, vals map[string]any, chain []uint64) {
	g.spec.Ops = append(g.spec.Ops, traceOp{Sample: &traceSample{Source: src, Time: ts, CPU: cpu, PID: pid, TID: tid, Fields: vals, Callchain: chain}})
}

// AddComm adds a command name record.
func (g *traceGen) AddComm(c format.Comm) { g.spec.Ops = append(g.spec.Ops, traceOp{Comm: &c}) }

// AddLost adds a loss record (not counted in the statistics).
func (g *traceGen) AddLost(l format.Lost) { g.spec.Ops = append(g.spec.Ops, traceOp{Lost: &l}) }

// SetEnd sets the capture's end time.
func (g *traceGen) SetEnd(ns uint64) { g.spec.Ops = append(g.spec.Ops, traceOp{End: &ns}) }

// Close writes the trace with per-source dropped counts.
func (g *traceGen) Close(dropped map[uint32]uint64) {
	g.t.Helper()
	g.spec.Dropped = dropped
	writeTraces(g.t, traceJob{Trace: &g.spec})
}
