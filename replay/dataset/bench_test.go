package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// benchTrace returns a trace of about n events made of the committed 6.12
// recording (kprobes with string fields and kernel stacks, tracepoints)
// repeated back to back with shifted times, generated once into the temp
// dir.
func benchTrace(b testing.TB, n int, host string) string {
	p := filepath.Join(os.TempDir(), fmt.Sprintf("kpcap-dataset-bench-v1-%d-%s.pcapng.zst", n, host))
	if f, err := format.Open(p); err == nil {
		f.Close()
		return p
	}
	src, err := format.Open(samples[1])
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var ss []format.Sample
	it := src.Samples()
	for it.Next() {
		s := *it.Sample()
		s.Raw = append([]byte(nil), s.Raw...)
		s.Callchain = append([]uint64(nil), s.Callchain...)
		ss = append(ss, s)
	}
	if err := it.Err(); err != nil || len(ss) == 0 {
		b.Fatalf("read %s: %v (%d samples)", samples[1], err, len(ss))
	}
	span := ss[len(ss)-1].Time - ss[0].Time + 1000
	h := src.Header
	h.Host.Hostname = host
	f, err := os.CreateTemp(os.TempDir(), filepath.Base(p)+".*.tmp")
	if err != nil {
		b.Fatal(err)
	}
	w, err := format.NewWriter(f, &h, nil)
	if err != nil {
		b.Fatal(err)
	}
	w.AddSymbols(src.Symbols)
	w.AddUserFrames(src.UserFrames)
	for _, c := range src.Comms {
		w.AddComm(c)
	}
	for k := 0; k*len(ss) < n; k++ {
		for i := range ss {
			s := ss[i]
			s.Time += uint64(k) * span
			if err := w.WriteSample(&s); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close(nil); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkExport measures kpcap export of one large trace (2M events of
// real kernel samples with stacks) into a fresh dataset, with 1 worker and
// all cores: events/s (wall) and events per CPU-second.
func BenchmarkExport(b *testing.B) {
	p := benchTrace(b, 2_000_000, "bench")
	for _, workers := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var total int64
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				if _, err := Init(dir); err != nil {
					b.Fatal(err)
				}
				r, err := Export(dir, p, Options{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				total += r.Events
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
			if c := cpuTime() - cpu0; c > 0 {
				b.ReportMetric(float64(total)/c.Seconds(), "events/cpu-s")
			}
		})
	}
}

// BenchmarkExportFleet measures kpcap export of 40 traces of 50k events
// each (a fleet's typical small files: per-file costs dominate), exported
// as kpcap export does, one trace per CPU at once.
func BenchmarkExportFleet(b *testing.B) {
	var paths []string
	for i := range 40 {
		paths = append(paths, benchTrace(b, 50_000, fmt.Sprintf("host-%02d", i)))
	}
	jobs := runtime.NumCPU()
	var total atomic.Int64
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if _, err := Init(dir); err != nil {
			b.Fatal(err)
		}
		next := make(chan string)
		var wg sync.WaitGroup
		for range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := range next {
					r, err := Export(dir, p, Options{Workers: 1})
					if err != nil {
						b.Error(err)
					}
					total.Add(r.Events)
				}
			}()
		}
		for _, p := range paths {
			next <- p
		}
		close(next)
		wg.Wait()
	}
	b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "events/s")
	if c := cpuTime() - cpu0; c > 0 {
		b.ReportMetric(float64(total.Load())/c.Seconds(), "events/cpu-s")
	}
}
