//go:build linux

package record

import (
	"context"
	"os"
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
