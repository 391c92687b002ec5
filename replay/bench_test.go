package replay

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// benchEvents is the size of the benchmark trace.
const benchEvents = 10_000_000

// benchTrace returns a trace of n events (40% sys_enter_openat, 40%
// sys_exit_openat, 20% sched_switch over 4 CPUs and 64 threads), generated
// once into the temp dir and reused by later runs.
func benchTrace(b testing.TB, n int) string {
	p := filepath.Join(os.TempDir(), fmt.Sprintf("kpcap-replay-bench-v1-%d.kpcap", n))
	if f, err := format.Open(p); err == nil {
		var got uint64
		for _, fr := range f.Frames {
			got += fr.Samples
		}
		f.Close()
		if got == uint64(n) {
			return p
		}
	}
	enter := loadFormat(b, "sys_enter_openat")
	exit := loadFormat(b, "sys_exit_openat")
	sw := loadFormat(b, "sched_switch")
	// A unique temp name: concurrent test processes may generate at once.
	f, err := os.CreateTemp(os.TempDir(), filepath.Base(p)+".*.tmp")
	if err != nil {
		b.Fatal(err)
	}
	tmp := f.Name()
	h := &format.Header{Application: "kpcap bench", Sources: []format.Source{
		{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Format: enter},
		{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Format: exit},
		{Name: "sched:sched_switch", Kind: format.KindTracepoint, Format: sw},
	}}
	w, err := format.NewWriter(f, h, nil)
	if err != nil {
		b.Fatal(err)
	}
	for tid := uint32(1000); tid < 1064; tid++ {
		w.AddComm(format.Comm{PID: tid, TID: tid, Comm: fmt.Sprintf("worker-%d", tid)})
	}
	pe := payload(b, enter, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffd1000, "flags": 0x80000, "mode": 0}, 0)
	px := payload(b, exit, map[string]any{"__syscall_nr": 257, "ret": 3}, 4)
	ps := payload(b, sw, map[string]any{"prev_comm": "worker", "prev_pid": 1000, "prev_prio": 120, "prev_state": 1,
		"next_comm": "swapper/0", "next_pid": 0, "next_prio": 120}, 0)
	var s format.Sample
	for i := 0; i < n; i++ {
		tid := uint32(1000 + i%64)
		s = format.Sample{Time: 1e9 + uint64(i)*100, CPU: uint32(i % 4), PID: tid, TID: tid}
		switch i % 5 {
		case 0, 2:
			s.Source, s.Raw = 0, pe
			binary.LittleEndian.PutUint64(pe[24:], uint64(0x7ffd0000+i))
		case 1, 3:
			s.Source, s.Raw = 1, px
			binary.LittleEndian.PutUint64(px[16:], uint64(i))
		default:
			s.Source, s.Raw = 2, ps
		}
		binary.LittleEndian.PutUint32(s.Raw[4:], tid)
		if err := w.WriteSample(&s); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkDecode measures decoded events/s from decompressed frames into
// Arrow columns (zstd excluded), on one core.
func BenchmarkDecode(b *testing.B) {
	p := benchTrace(b, benchEvents)
	f, err := format.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f, Options{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	// Decompress a few frames once.
	var frames [][]byte
	var events int
	for i := 0; i < len(f.Frames) && i < 8; i++ {
		data, err := f.ReadFrame(i, nil)
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, data)
		events += int(f.Frames[i].Samples)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	total := 0
	for i := 0; i < b.N; i++ {
		for j, data := range frames {
			c := newChunk(len(r.cols), len(r.decs), int(f.Frames[j].Samples))
			d := newDecoder(r, c)
			if err := format.ForEachSample(data, func(s *format.Sample) error { d.add(s); return nil }); err != nil {
				b.Fatal(err)
			}
			r.noteVarUse(c) // as Reader.decodeFrame does
			rec := r.toRecord(c)
			total += int(rec.NumRows())
			rec.Release()
		}
	}
	reportRates(b, int64(total), cpu0)
}

// reportRates reports events/s (wall) and events per CPU-second.
func reportRates(b *testing.B, total int64, cpu0 time.Duration) {
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
	if c := cpuTime() - cpu0; c > 0 {
		b.ReportMetric(float64(total)/c.Seconds(), "events/cpu-s")
	}
}

// BenchmarkReplay measures the whole pipeline (zstd, decode, ordering,
// Arrow batches) over the 10M-event trace, with 1 worker and all cores.
func BenchmarkReplay(b *testing.B) {
	p := benchTrace(b, benchEvents)
	for _, workers := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var total int64
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				r, err := Open(p, Options{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				for r.Next() {
					total += r.Record().NumRows()
				}
				if err := r.Err(); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
			reportRates(b, total, cpu0)
		})
	}
}

// BenchmarkText measures text replay (decode + trace_pipe formatting).
func BenchmarkText(b *testing.B) {
	p := benchTrace(b, benchEvents)
	var total int64
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		r, err := Open(p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n, err := WriteText(r, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		total += n
		r.Close()
	}
	reportRates(b, total, cpu0)
}
