package analyze

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedKernelTraces runs summary, latency and diff on the traces
// recorded on real Debian 6.1 and 6.12 kernels (testdata/kernels).
func TestCommittedKernelTraces(t *testing.T) {
	dir := filepath.Join("..", "testdata", "kernels")
	a, b := filepath.Join(dir, "openat-6.1.pcapng.zst"), filepath.Join(dir, "openat-6.12.pcapng.zst")
	for _, p := range []string{a, b} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("committed kernel trace missing: %v", err)
			}
			t.Skipf("%s not committed (yet): %v", p, err)
		}
	}
	var tas [2]*TraceAnalysis
	for i, p := range []string{a, b} {
		ta, err := Analyze(openReplay(t, p), SummaryOptions{}, LatencyOptions{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		tas[i] = ta
		s := ta.Summary
		if s.Events == 0 || len(s.Sources) == 0 || s.Host.Kernel == "" {
			t.Fatalf("%s: summary %d events, %d sources, kernel %q", p, s.Events, len(s.Sources), s.Host.Kernel)
		}
		var perSrc uint64
		for _, sc := range s.Sources {
			perSrc += sc.Events
		}
		if perSrc != s.Events {
			t.Errorf("%s: sources add up to %d of %d events", p, perSrc, s.Events)
		}
		if len(ta.Latency.Functions) == 0 {
			t.Errorf("%s: no paired function (sources %+v)", p, s.Sources)
		}
		for _, f := range ta.Latency.Functions {
			if f.Count > 0 && !(f.P50 <= f.P90 && f.P90 <= f.P99 && f.P99 <= f.P999 && f.P999 <= f.Max && f.Min <= f.P50) {
				t.Errorf("%s: %s percentiles out of order: %+v", p, f.Name, f)
			}
			var n uint64
			for _, h := range f.Histogram {
				n += h.Count
			}
			if n != f.Count {
				t.Errorf("%s: %s histogram holds %d of %d", p, f.Name, n, f.Count)
			}
		}
		// Every entry and return event is either paired or counted.
		events := map[string]uint64{}
		for _, sc := range s.Sources {
			events[sc.Name] = sc.Events
		}
		for _, pr := range ta.Latency.Pairs {
			var in, out uint64
			for _, n := range pr.Start {
				in += events[n]
			}
			for _, n := range pr.End {
				out += events[n]
			}
			for _, f := range ta.Latency.Functions {
				if f.Name == pr.Name && (f.Count+*f.UnmatchedEntries != in || f.Count+*f.UnmatchedReturns != out) {
					t.Errorf("%s: %s: %d pairs + %d/%d unmatched != %d entries / %d returns", p, f.Name, f.Count, *f.UnmatchedEntries, *f.UnmatchedReturns, in, out)
				}
			}
		}
		if ta.Flame.Profile.Total != s.Events {
			t.Errorf("%s: flame weighs %d of %d events", p, ta.Flame.Profile.Total, s.Events)
		}
		var txt bytes.Buffer
		if err := WriteLatencyText(&txt, ta.Latency); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (kernel %s): %d events, lost %d\n%s", p, s.Host.Kernel, s.Events, s.Lost.Total, txt.String())
	}
	d := Compare(a, tas[0], b, tas[1], DiffOptions{})
	if d.A.Kernel == d.B.Kernel {
		t.Errorf("both traces claim kernel %q", d.A.Kernel)
	}
	matched := 0
	for _, p := range d.Probes {
		if p.OnlyIn == "" {
			matched++
		}
		if p.PValue != nil && (*p.PValue < 0 || *p.PValue > 1) {
			t.Errorf("%s: p-value %v", p.Name, *p.PValue)
		}
	}
	if matched == 0 {
		t.Errorf("no probe matched by name across kernels: %+v", d.Probes)
	}
	for _, st := range d.Stacks {
		if strings.Contains(st.Stack, ".isra.") || strings.Contains(st.Stack, ".constprop.") {
			t.Errorf("stack not normalized across kernels: %s", st.Stack)
		}
	}
	if (d.A.Lost != d.B.Lost) != d.LossMismatch {
		t.Errorf("loss mismatch flag %v for lost %d vs %d", d.LossMismatch, d.A.Lost, d.B.Lost)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Fatal(err)
	}
	var txt bytes.Buffer
	WriteDiffText(&txt, d)
	t.Logf("diff:\n%s", txt.String())
}
