package format

import (
	"bytes"
	"testing"
)

// benchSample fills s like a syscall tracepoint record: a 64-byte raw
// payload with a common header, a few varying fields and zero padding.
func benchSample(i int, s *Sample) {
	s.Source = uint32(i & 3)
	s.Time = 1_000_000_000 + uint64(i)*137
	s.CPU = uint32(i & 1)
	s.PID = 1000 + uint32(i%50)
	s.TID = s.PID
	if cap(s.Raw) < 64 {
		s.Raw = make([]byte, 64)
	}
	s.Raw = s.Raw[:64]
	le.PutUint16(s.Raw[0:], 700+uint16(i&3)) // common_type
	le.PutUint32(s.Raw[4:], s.PID)           // common_pid
	le.PutUint64(s.Raw[8:], 257)             // __syscall_nr
	le.PutUint64(s.Raw[16:], uint64(0xffffff9c))
	le.PutUint64(s.Raw[24:], 0x7ffd12340000+uint64(i%4096)*16) // filename pointer
	le.PutUint64(s.Raw[32:], uint64(i%3))                      // flags
}

func benchHeader() *Header {
	h := testHeader()
	h.Sources = append(h.Sources, Source{Name: "syscalls:sys_exit_openat", Kind: KindTracepoint})
	return h
}

// BenchmarkWriteSample measures the whole write path: encoding on the
// caller's goroutine, compression on the others.
func BenchmarkWriteSample(b *testing.B) { benchWrite(b, false) }

// BenchmarkWriteSampleCaller measures only the caller's cost (frames are
// handed off but not compressed): what the recorder's drain loop pays.
func BenchmarkWriteSampleCaller(b *testing.B) { benchWrite(b, true) }

func benchWrite(b *testing.B, discard bool) {
	var s Sample
	const distinct = 1 << 16
	samples := make([]Sample, distinct)
	for i := range samples {
		benchSample(i, &samples[i])
	}
	cw := &countWriter{}
	w, err := NewWriter(cw, benchHeader(), nil)
	if err != nil {
		b.Fatal(err)
	}
	w.discard = discard
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		s = samples[i&(distinct-1)]
		s.Time = uint64(i) * 137
		if err := w.WriteSample(&s); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "events/s")
	b.ReportMetric(float64(w.RawBytes())/sec/1e6, "rawMB/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		// All goroutines' CPU (encoding and compression): throughput one
		// core would reach, whatever else the machine runs.
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	if !discard {
		b.ReportMetric(float64(cw.n)/float64(b.N), "bytes/sample")
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// benchFile writes n bench samples and opens the result.
func benchFile(b *testing.B, n int) (*File, []byte) {
	var out bytes.Buffer
	w, err := NewWriter(&out, benchHeader(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var s Sample
	for i := 0; i < n; i++ {
		benchSample(i, &s)
		w.WriteSample(&s)
	}
	if err := w.Close(nil); err != nil {
		b.Fatal(err)
	}
	f, err := NewFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		b.Fatal(err)
	}
	return f, out.Bytes()
}

// BenchmarkIterate measures walking decompressed frames (ForEachSample).
func BenchmarkIterate(b *testing.B) {
	f, _ := benchFile(b, 1<<20)
	var frames [][]byte
	var raw int64
	for i := range f.Frames {
		buf, err := f.ReadFrame(i, nil)
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, buf)
		raw += int64(len(buf))
	}
	per := float64(raw) / float64(1<<20)
	b.ResetTimer()
	n := 0
	for n < b.N {
		for _, fr := range frames {
			ForEachSample(fr, func(s *Sample) error { n++; return nil })
			if n >= b.N {
				break
			}
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "events/s")
	b.ReportMetric(float64(n)*per/sec/1e6, "rawMB/s")
}

// BenchmarkRead measures the whole read path: decompression and iteration
// with SampleIter, on one goroutine.
func BenchmarkRead(b *testing.B) {
	f, file := benchFile(b, 1<<20)
	b.ResetTimer()
	cpu0 := processCPU()
	n := 0
	for n < b.N {
		it := f.Samples()
		for it.Next() {
			n++
		}
		if it.Err() != nil {
			b.Fatal(it.Err())
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "events/s")
	b.ReportMetric(float64(n)*float64(len(file))/float64(1<<20)/sec/1e6, "fileMB/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
	}
}
