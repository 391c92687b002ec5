package analyze

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// progressReader records the progress a pass reports to it.
type progressReader struct {
	*replay.Reader
	mu     sync.Mutex
	active bool // a call is running: calls must not overlap
	calls  [][2]uint64
	bad    string
}

func (p *progressReader) PassProgress(events uint64, bytes int64) {
	p.mu.Lock()
	if p.active {
		p.bad = "overlapping PassProgress calls"
	}
	p.active = true
	p.mu.Unlock()
	defer func() { p.mu.Lock(); p.active = false; p.mu.Unlock() }()
	if n := len(p.calls); n > 0 && events != 0 && (events < p.calls[n-1][0] || uint64(bytes) < p.calls[n-1][1]) {
		p.bad = fmt.Sprintf("progress went back from %v to %d, %d without a reset", p.calls[n-1], events, bytes)
	}
	p.calls = append(p.calls, [2]uint64{events, uint64(bytes)})
}

func TestFastSummaryProgress(t *testing.T) {
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "p.pcapng.zst"), "6.1.0-test", "", 5000, 1, 3)
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			in := &progressReader{Reader: openReplayOpts(t, path, replay.Options{Workers: workers})}
			f := in.File()
			var csize int64
			for _, fi := range f.Frames {
				csize += fi.CSize
			}
			s, ok, err := summarizeFast(in, SummaryOptions{})
			if err != nil || !ok {
				t.Fatalf("fast path: served %v, error %v", ok, err)
			}
			if in.bad != "" {
				t.Fatal(in.bad)
			}
			// One report per frame, ending at every event and every compressed byte.
			if len(in.calls) != len(f.Frames) {
				t.Fatalf("%d progress reports for %d frames: %v", len(in.calls), len(f.Frames), in.calls)
			}
			if last := in.calls[len(in.calls)-1]; last != [2]uint64{s.Events, uint64(csize)} {
				t.Fatalf("last progress %v, want %d events, %d bytes", last, s.Events, csize)
			}
		})
	}
}

// TestFastSummaryProgressDecline checks that a fast pass handing over to
// the batch path leaves the progress at zero for it to take over.
func TestFastSummaryProgressDecline(t *testing.T) {
	dir := t.TempDir()
	smp := func(ts uint64) format.Sample { return format.Sample{Source: 0, Time: ts, PID: 10, TID: 10} }
	short := smp(3_000_000)
	short.Raw = make([]byte, 12) // shorter than its format: the batch path warns
	frames := [][]format.Sample{{smp(1_000_000), smp(1_000_001)}, {smp(2_000_000)}, {smp(2_500_000), short}}
	p := genTrace(t, filepath.Join(dir, "short.pcapng.zst"), []format.Comm{{PID: 10, TID: 10, Comm: "sh"}}, frames)
	in := &progressReader{Reader: openReplayOpts(t, p, replay.Options{Workers: 1})}
	if _, ok, err := summarizeFast(in, SummaryOptions{}); ok || err != nil {
		t.Fatalf("fast path on a short payload: served %v, error %v", ok, err)
	}
	if in.bad != "" {
		t.Fatal(in.bad)
	}
	if len(in.calls) < 2 || in.calls[len(in.calls)-1] != [2]uint64{} {
		t.Fatalf("progress after a decline: %v, want frames then a reset to 0", in.calls)
	}
	// The batch path then serves it, through Next.
	s, err := Summarize(in, SummaryOptions{})
	if err != nil {
		t.Fatalf("batch path after decline: %v", err)
	}
	if s.Events != 5 {
		t.Fatalf("batch path after decline: %d events, want 5", s.Events)
	}
}

func openReplayOpts(t testing.TB, path string, o replay.Options) *replay.Reader {
	t.Helper()
	r, err := replay.Open(path, o)
	if err != nil {
		t.Fatalf("replay.Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
