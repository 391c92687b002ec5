//go:build linux

package record

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestReleaseNotice: closing many events takes the kernel seconds, so the
// capture says, once the file is finalized, that it is releasing them.
// The threshold is lowered to the events of two tracepoints here.
func TestReleaseNotice(t *testing.T) {
	requireRoot(t)
	out := filepath.Join(t.TempDir(), "rel.pcapng.zst")
	var notices []string
	finalized := false
	opts := Options{Output: out, Notice: func(s string) {
		notices = append(notices, s)
		if strings.HasPrefix(s, "trace finalized; releasing ") {
			// The file must be complete already: the user may stop waiting.
			f, err := format.Open(out)
			if err != nil {
				t.Errorf("at %q: %v", s, err)
				return
			}
			finalized = f.Indexed && len(f.Warnings) == 0 && len(f.Stats) == 2
			f.Close()
		}
	}, slowRelease: 2}
	res, _ := recordWhile(t, opts, []*source{tracepointSource(t, "sched", "sched_process_exec"), tracepointSource(t, "sched", "sched_process_exit")}, func() {})
	want := "trace finalized; releasing " + itoa(3*runtime.NumCPU()) + " kernel events..."
	found := false
	for _, n := range notices {
		found = found || n == want
	}
	if !found || !finalized {
		t.Errorf("notices %q (finalized at the notice: %v), want %q after the file is finalized", notices, finalized, want)
	}
	for _, n := range res.Notices {
		if strings.Contains(n, "releasing") {
			t.Errorf("the release notice is about the moment, not the result: %q", res.Notices)
		}
	}

	// Few events: nothing said.
	notices = nil
	recordWhile(t, Options{Output: out, Notice: func(s string) { notices = append(notices, s) }}, []*source{tracepointSource(t, "sched", "sched_process_exec")}, func() {})
	if len(notices) > 0 {
		t.Errorf("with %d events: notices %q", 2*runtime.NumCPU(), notices)
	}
}
