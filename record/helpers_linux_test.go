//go:build linux

package record

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// The helper process of Options.Command runs inside the test binary.
func init() { MaybeRunChild() }

// requireRoot skips a test that needs root, unless CI=true where it fails.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		need(t, "needs root for perf_event_open and tracefs")
	}
}

// need skips with reason locally and fails under CI=true.
func need(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: cannot skip: %s", reason)
	}
	t.Skip(reason)
}

// tracepointSource builds a tracepoint source straight from tracefs, so the
// capture loop can be tested on its own.
func tracepointSource(t testing.TB, group, event string) *source {
	t.Helper()
	dir := "/sys/kernel/tracing/events/" + group + "/" + event
	idb, err := os.ReadFile(dir + "/id")
	if err != nil {
		need(t, "tracefs event "+group+":"+event+": "+err.Error())
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(idb)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(dir + "/format")
	if err != nil {
		t.Fatal(err)
	}
	s := &source{
		desc: format.Source{Name: group + ":" + event, Kind: format.KindTracepoint, Definition: group + ":" + event, Format: string(text)},
		attr: perf.Attr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id},
	}
	s.layout, err = parseLayout(s.desc.Format)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runDirect runs the capture loop on hand-built sources.
func runDirect(ctx context.Context, o Options, srcs ...*source) (*Result, error) {
	cpus, err := selectCPUs(o.CPUs)
	if err != nil {
		return nil, err
	}
	r := &resolver{names: map[string]bool{}, sources: srcs}
	return runSources(ctx, &o, r, &Result{Output: o.Output, ExitCode: -1}, cpus)
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func itoa(n int) string { return strconv.Itoa(n) }

// counted is a finished capture of recordCounted: its result, its file
// opened, and what the file holds.
type counted struct {
	res    *Result
	file   *format.File
	counts map[uint32]int    // samples per source, in time order (countSamples)
	lost   uint64            // sum of the file's Lost records
	lostOf map[uint32]uint64 // the same per source
}

// captureSpec is the setup shared by the loss tests.
type captureSpec struct {
	opts Options
	srcs []*source
	// workload, e.g. "getppid:200000:2", runs this test binary as
	// Options.Command making that many getppid calls on that many threads
	// (see bench_linux_test.go); the capture ends when it exits.
	workload string
	// wrap, if set, wraps the file writer (a slow or stalled disk).
	wrap func(sink) sink
	// during, if set, runs once every event is enabled, while the capture
	// goes on; it must end the capture (stop cancels its context).
	during func(stop context.CancelFunc)
	// opened is the file to open afterwards when it is not opts.Output
	// (a rotated set's first file).
	opened string
	// timeout ends a capture whose workload has not ended (a minute if 0).
	timeout time.Duration
}

// recordCounted runs the capture of spec on its hand-built sources into a
// new file, then opens the file and counts its samples and Lost records.
// A capture that fails, never gets ready or never ends fails the test.
func recordCounted(t *testing.T, spec captureSpec) *counted {
	t.Helper()
	o := spec.opts
	if o.Output == "" {
		o.Output = filepath.Join(t.TempDir(), "t.pcapng.zst")
	}
	if spec.workload != "" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv(workloadEnv, spec.workload)
		o.Command = []string{exe}
	}
	var fh *os.File
	if spec.wrap != nil {
		var err error
		if fh, err = os.Create(o.Output); err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		descs := make([]format.Source, len(spec.srcs))
		for i, s := range spec.srcs {
			descs[i] = s.desc
		}
		w, err := format.NewWriter(fh, &format.Header{Application: "test", Sources: descs}, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.sink = spec.wrap(w)
	}
	ready := make(chan struct{})
	caller := o.Started
	o.Started = func(si StartInfo) {
		if caller != nil {
			caller(si)
		}
		close(ready)
	}
	timeout := time.Minute
	if spec.timeout > 0 {
		timeout = spec.timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type ret struct {
		res *Result
		err error
	}
	rc := make(chan ret, 1)
	go func() {
		res, err := runDirect(ctx, o, spec.srcs...)
		rc <- ret{res, err}
	}()
	if spec.during != nil {
		select {
		case <-ready:
		case r := <-rc:
			t.Fatalf("Run ended before it was ready: %v", r.err)
		}
		spec.during(cancel)
	}
	// Without during, the context ends the capture after its timeout.
	limit := timeout + 30*time.Second
	if spec.during != nil {
		limit = 30 * time.Second
	}
	var r ret
	select {
	case r = <-rc:
	case <-time.After(limit):
		t.Fatalf("the capture did not end within %v", limit)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if fh != nil {
		fh.Close() // the sink finalized the file: it is complete
	}
	if spec.opened != "" {
		return &counted{res: r.res}
	}
	f, err := format.Open(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	c := &counted{res: r.res, file: f, lostOf: map[uint32]uint64{}}
	if c.counts, err = countSamples(t, f, nil); err != nil {
		t.Fatal(err)
	}
	for _, l := range f.Lost {
		c.lost += l.Count
		c.lostOf[l.Source] += l.Count
	}
	return c
}
