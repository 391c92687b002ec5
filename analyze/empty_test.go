package analyze

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
)

// TestEmptyTrace: a trace without samples (but with loss) analyzes cleanly
// and still reports its loss.
func TestEmptyTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.pcapng.zst")
	g := testtrace.New(t, path, "6.1.0-test", []testtrace.Source{
		{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint}, Format: "sys_enter_openat"},
		{Src: format.Source{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint}, Format: "sys_exit_openat"},
	})
	g.W.AddLost(format.Lost{Time: 5, CPU: 0, Source: ^uint32(0), Count: 4})
	g.Close(map[uint32]uint64{1: 2})
	ta, err := Analyze(openReplay(t, path), SummaryOptions{}, LatencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The statistics' count is the total: a ring report naming no source
	// is the same loss (or lost task records), not more samples.
	if ta.Summary.Events != 0 || ta.Summary.Lost.Total != 2 || ta.Summary.Lost.RingLost != 4 || ta.Summary.Lost.SourceDropped != 2 || ta.Latency.Lost != 2 {
		t.Fatalf("summary %+v latency lost %d", ta.Summary.Lost, ta.Latency.Lost)
	}
	if len(ta.Latency.Functions) != 1 || ta.Latency.Functions[0].Count != 0 {
		t.Fatalf("functions %+v", ta.Latency.Functions)
	}
	var b bytes.Buffer
	for _, err := range []error{
		WriteSummaryText(&b, ta.Summary, false), WriteSummaryText(&b, ta.Summary, true),
		WriteLatencyText(&b, ta.Latency), WriteDiffText(&b, Compare("a", ta, "b", ta, DiffOptions{})),
		flame.WriteSVG(&b, ta.Flame.Profile, flame.SVGOptions{}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Contains(b.Bytes(), []byte("LOST: 2 samples")) {
		t.Errorf("loss not shown:\n%s", b.String())
	}
}
