//go:build linux

package record

import (
	"encoding/binary"
	"io"
	"syscall"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// openatFormats are the sys_enter_openat and sys_exit_openat formats as
// 6.x kernels describe them (common fields omitted: parseLayout needs only
// the last field's end).
var openatFormats = [2]string{
	"field:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\nfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\nfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\nfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\nfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;\n",
	"field:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\nfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n",
}

// BenchmarkDrainOpenat is BenchmarkDrain with the benchmark's openat
// workload: enter/exit pairs from one thread, alternating CPUs in runs,
// irregular timestamps. Besides wall time per event it reports the whole
// process's CPU time per event (cpu-ns/event), which includes the
// compressor goroutines that wall time per op hides.
func BenchmarkDrainOpenat(b *testing.B) { benchDrainOpenat(b, io.Discard) }

// BenchmarkDrainOpenatSnapshot is BenchmarkDrainOpenat into a flight
// recorder's memory (the frames of the last 64 MiB), as kpcap record
// --snapshot writes: its cost per event against BenchmarkDrainOpenat's is
// what the flight recorder adds.
func BenchmarkDrainOpenatSnapshot(b *testing.B) {
	benchDrainOpenat(b, &frameRing{size: 64 << 20})
}

func benchDrainOpenat(b *testing.B, out io.Writer) {
	const perChunk = 4096
	var srcs []*source
	var descs []format.Source
	for i, name := range []string{"syscalls:sys_enter_openat", "syscalls:sys_exit_openat"} {
		s := &source{desc: format.Source{Name: name, Kind: format.KindTracepoint, Format: openatFormats[i]}}
		var err error
		if s.layout, err = parseLayout(s.desc.Format); err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, s)
		descs = append(descs, s.desc)
	}
	w, err := format.NewWriter(out, &format.Header{Application: "bench", Sources: descs}, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &capture{
		opts:     &Options{},
		sources:  srcs,
		output:   output{out: w},
		eventIDs: eventIDs{ids: map[uint64]int32{77: 0, 78: 1}},
		counters: counters{recvCPU: [][]uint64{make([]uint64, 2), make([]uint64, 2)},
			weightCPU: [][]uint64{make([]uint64, 2), make([]uint64, 2)}, filteredCPU: [][]uint64{make([]uint64, 2), make([]uint64, 2)}},
		qs:         []*cpuQueue{{sorted: true}, {sorted: true}},
		perfEvents: perfEvents{cpuOf: []uint32{0, 1}},
	}
	c.merge.qs = c.qs
	c.buildDense()
	ne := binary.NativeEndian
	// sample: header, id, pid/tid, time, cpu, period, RAW {u32 size; data},
	// padded to 8
	mk := func(dst []byte, enter bool, t uint64, cpu uint32, fd uint64) []byte {
		raw := 48
		id := uint64(77)
		if !enter {
			raw, id = 24, 78
		}
		size := (52 + raw + 7) &^ 7
		off := len(dst)
		dst = append(dst, make([]byte, size)...)
		r := dst[off:]
		ne.PutUint32(r, 9)
		ne.PutUint16(r[6:], uint16(size))
		ne.PutUint64(r[8:], id)
		ne.PutUint32(r[16:], 4321)
		ne.PutUint32(r[20:], 4321)
		ne.PutUint64(r[24:], t)
		ne.PutUint32(r[32:], cpu)
		ne.PutUint64(r[40:], 1)               // period
		ne.PutUint32(r[48:], uint32(size-52)) // RAW size, padding included
		d := r[52:]
		ne.PutUint16(d, 640)
		ne.PutUint32(d[4:], 4321)
		if enter {
			ne.PutUint32(d[8:], 257)
			ne.PutUint64(d[16:], 0xffffff9c)
			ne.PutUint64(d[24:], 0x4b2d40)
			ne.PutUint64(d[32:], 0x80000)
		} else {
			ne.PutUint32(d[8:], 257)
			ne.PutUint64(d[16:], fd)
		}
		return dst
	}
	// Pregenerated: 1M events (~90 MB of ring records), more than the
	// zstd window, so that repeating them gives compression no shortcut.
	const nchunks = 128
	var pre [nchunks][2][]byte
	clock, rnd := uint64(1), uint64(88172645463325252)
	for i := range pre {
		for cpu := range pre[i] {
			d := make([]byte, 0, perChunk/2*(96+72))
			for k := 0; k < perChunk/2; k++ {
				rnd ^= rnd << 13
				rnd ^= rnd >> 7
				rnd ^= rnd << 17
				clock += 900 + rnd%600
				d = mk(d, true, clock, uint32(cpu), 0)
				clock += 400 + rnd%300
				d = mk(d, false, clock, uint32(cpu), 3)
			}
			pre[i][cpu] = d
		}
	}
	cpuTime := func() int64 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	chunks := [2]*chunk{{}, {}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	events := 0
	for i := 0; events < b.N; i++ {
		for cpu, ch := range chunks {
			ch.data = pre[i%nchunks][cpu]
			c.qs[cpu].add(ch)
		}
		if err := c.merge.run(^uint64(0), c.emit, nil); err != nil {
			b.Fatal(err)
		}
		for _, q := range c.qs {
			q.compact()
		}
		events += 2 * perChunk
	}
	if err := w.Close(nil); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if w.SamplesWritten() != uint64(events) || c.unmatched != 0 {
		b.Fatalf("%d samples written, %d unmatched, of %d records", w.SamplesWritten(), c.unmatched, events)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(events), "cpu-ns/event")
	b.ReportMetric(float64(w.CompressedBytes())/float64(events), "B/event")
}
