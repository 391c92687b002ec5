package analyze

import (
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/replay"
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

// BenchmarkPerfettoVsJSON measures the Perfetto export against replay's JSON
// lines on the same trace (decoding included in both), in events/s.
func BenchmarkPerfettoVsJSON(b *testing.B) {
	path := testtrace.Openat(b, filepath.Join(b.TempDir(), "bench.pcapng.zst"), "6.1.0-test", "", 100_000, 1, 3)
	for _, kind := range []string{"perfetto", "json"} {
		b.Run(kind, func(b *testing.B) {
			var events, bytes int64
			cpu0 := cpuTime()
			for range b.N {
				r := openReplay(b, path)
				var cw countWriter
				var n int64
				var err error
				if kind == "perfetto" {
					var res *PerfettoResult
					if res, err = WritePerfetto(r, &cw, PerfettoOptions{}); err == nil {
						n = res.Events
					}
				} else {
					n, err = replay.WriteJSON(r, &cw)
				}
				r.Close()
				if err != nil {
					b.Fatal(err)
				}
				events += n
				bytes += cw.n
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			// On a shared machine events per CPU-second is the honest
			// comparison (JSON formats on several goroutines).
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
			}
			b.ReportMetric(float64(bytes)/float64(events), "bytes/event")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
