//go:build linux

package record

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// BenchmarkDrain measures the recorder's own path per sample, without the
// kernel: index a chunk of ring records from two CPUs, merge them in time
// order, decode each in place and encode it into a real format.Writer
// (compressing, writing to io.Discard).
func BenchmarkDrain(b *testing.B) {
	const perChunk = 4096
	src := &source{desc: format.Source{Name: "syscalls:sys_enter_getppid", Kind: format.KindTracepoint, Format: "field:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"}}
	src.layout, _ = parseLayout(src.desc.Format)
	w, err := format.NewWriter(io.Discard, &format.Header{Application: "bench", Sources: []format.Source{src.desc}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &capture{
		opts:       &Options{},
		sources:    []*source{src},
		output:     output{out: w},
		eventIDs:   eventIDs{ids: map[uint64]int32{77: 0}},
		counters:   counters{recvCPU: [][]uint64{make([]uint64, 2)}, weightCPU: [][]uint64{make([]uint64, 2)}, filteredCPU: [][]uint64{make([]uint64, 2)}},
		qs:         []*cpuQueue{{sorted: true}, {sorted: true}},
		perfEvents: perfEvents{cpuOf: []uint32{0, 1}},
	}
	c.merge.qs = c.qs
	c.buildDense()
	// a getppid sys_enter sample as the kernel writes it: 48 fixed bytes
	// (header, id, pid/tid, time, cpu, period), then RAW {u32 size=12;
	// 8 common + 4 nr}, 64 bytes in all
	mk := func(t uint64, cpu uint32) []byte {
		r := make([]byte, 64)
		binary.NativeEndian.PutUint32(r, 9)
		binary.NativeEndian.PutUint16(r[6:], 64)
		binary.NativeEndian.PutUint64(r[8:], 77)
		binary.NativeEndian.PutUint32(r[16:], 1234)
		binary.NativeEndian.PutUint32(r[20:], 1234)
		binary.NativeEndian.PutUint64(r[24:], t)
		binary.NativeEndian.PutUint32(r[32:], cpu)
		binary.NativeEndian.PutUint64(r[40:], 1)
		binary.NativeEndian.PutUint32(r[48:], 12)
		binary.NativeEndian.PutUint16(r[52:], 305)
		binary.NativeEndian.PutUint32(r[60:], 110)
		return r
	}
	var data [2][]byte
	clock := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for events < b.N {
		for cpu := range data {
			data[cpu] = data[cpu][:0]
			for k := 0; k < perChunk; k++ {
				clock += 3
				data[cpu] = append(data[cpu], mk(clock, uint32(cpu))...)
			}
		}
		b.StopTimer()
		chunks := [2]*chunk{{data: data[0]}, {data: data[1]}}
		b.StartTimer()
		for cpu, ch := range chunks {
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
	b.StopTimer()
	if err := w.Close(nil); err != nil {
		b.Fatal(err)
	}
	if w.SamplesWritten() != uint64(events) || c.unmatched != 0 {
		b.Fatalf("%d samples written, %d unmatched, of %d records", w.SamplesWritten(), c.unmatched, events)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(w.CompressedBytes())/float64(events), "B/event")
}
