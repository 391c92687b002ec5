package analyze

import (
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/analyze/testtrace"
)

// BenchmarkAnalyze measures one streaming pass with summary, latency and
// flame accumulators together (what report and diff do), replay included.
func BenchmarkAnalyze(b *testing.B) {
	path := testtrace.Openat(b, filepath.Join(b.TempDir(), "bench.pcapng.zst"), "6.1.0-test", "", 100_000, 1, 3)
	var events uint64
	b.ResetTimer()
	for range b.N {
		ta, err := Analyze(openReplay(b, path), SummaryOptions{}, LatencyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		events += ta.Summary.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSummary measures the summary alone.
func BenchmarkSummary(b *testing.B) {
	path := testtrace.Openat(b, filepath.Join(b.TempDir(), "bench.pcapng.zst"), "6.1.0-test", "", 100_000, 1, 3)
	var events uint64
	b.ResetTimer()
	for range b.N {
		s, err := Summarize(openReplay(b, path), SummaryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		events += s.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
