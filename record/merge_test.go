package record

import (
	"encoding/binary"
	"math/rand"
	"testing"
)

// fakeRecord is a 40-byte SAMPLE record (the fixed part only): the id
// field holds a sequence number.
func fakeRecord(t uint64, seq uint64) []byte {
	b := make([]byte, 40)
	binary.NativeEndian.PutUint32(b, 9)
	binary.NativeEndian.PutUint16(b[6:], 40)
	binary.NativeEndian.PutUint64(b[8:], seq)
	binary.NativeEndian.PutUint64(b[24:], t)
	return b
}

func fakeTime(r []byte) uint64 { return binary.NativeEndian.Uint64(r[24:]) }
func fakeSeq(r []byte) uint64  { return binary.NativeEndian.Uint64(r[8:]) }

// TestMergeOrder feeds nearly sorted per-CPU streams in rounds with a
// cutoff and checks the output is globally sorted, complete and unique.
func TestMergeOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const ncpu, rounds, per = 4, 50, 200
	qs := make([]*cpuQueue, ncpu)
	for i := range qs {
		qs[i] = &cpuQueue{sorted: true}
	}
	m := merger{qs: qs}
	clock := uint64(1000)
	var last uint64
	seen := map[uint64]bool{}
	emitted := 0
	emit := func(q int, r []byte) error {
		tm := fakeTime(r)
		if tm < last {
			t.Fatalf("time %d after %d", tm, last)
		}
		seq := fakeSeq(r)
		if seen[seq] {
			t.Fatalf("record %d twice", seq)
		}
		seen[seq] = true
		last = tm
		emitted++
		return nil
	}
	total := 0
	released := 0
	release := func(*chunk) { released++ }
	chunks := 0
	for round := 0; round < rounds; round++ {
		for _, q := range qs {
			ch := &chunk{}
			chunks++
			for k := 0; k < per; k++ {
				clock += uint64(rng.Intn(3) + 1)
				tm := clock
				if rng.Intn(10) == 0 {
					tm -= uint64(rng.Intn(5)) // small inversion
				}
				ch.data = append(ch.data, fakeRecord(tm, uint64(total))...)
				total++
			}
			if _, bad := q.add(ch); bad != 0 {
				t.Fatal("bad records")
			}
		}
		cutoff := clock - 200
		if round == rounds-1 {
			cutoff = ^uint64(0)
		}
		if err := m.run(cutoff, emit, release); err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			q.compact()
		}
	}
	if emitted != total {
		t.Fatalf("emitted %d of %d", emitted, total)
	}
	if released != chunks {
		t.Fatalf("released %d of %d chunks", released, chunks)
	}
}

func TestIndexTruncated(t *testing.T) {
	q := &cpuQueue{sorted: true}
	// a sample, a THROTTLE record (counted, not indexed), then a header
	// claiming 40 bytes with 8 left
	data := append(fakeRecord(5, 0), 5, 0, 0, 0, 0, 0, 8, 0)
	ch := &chunk{data: append(data, 9, 0, 0, 0, 0, 0, 40, 0)}
	if n, bad := q.add(ch); n != 2 || bad != 8 || len(q.recs) != 1 || ch.live != 1 {
		t.Fatalf("records %d bad %d indexed %d live %d", n, bad, len(q.recs), ch.live)
	}
}

func BenchmarkMerge(b *testing.B) {
	qs := []*cpuQueue{{sorted: true}, {sorted: true}}
	m := merger{qs: qs}
	n := 0
	emit := func(int, []byte) error { n++; return nil }
	var data [2][]byte
	for ci := range data {
		for k := 0; k < 1000; k++ {
			data[ci] = append(data[ci], fakeRecord(uint64(k*2+ci), uint64(k))...)
		}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for ci, q := range qs {
			ch := &chunk{data: data[ci]}
			q.add(ch)
		}
		m.run(^uint64(0), emit, nil)
		for _, q := range qs {
			q.compact()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
}
