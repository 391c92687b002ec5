package record

import (
	"slices"

	"github.com/kpcap/kpcap/record/internal/perf"
)

// chunk is a copy of one ring's new bytes: whole records, as the kernel
// wrote them. It is recycled once every record in it is written.
type chunk struct {
	data []byte
	live int // indexed records not yet written
}

// rec indexes one record of a chunk.
type rec struct {
	time uint64
	off  uint32
	size uint32
	ch   *chunk
}

// cpuQueue holds the records read from one CPU's ring that are not written
// yet. Records arrive nearly time-sorted (an interrupt between timestamp and
// reservation can invert neighbours), so the pending records are sorted
// before each merge, which is linear when they are already in order.
type cpuQueue struct {
	recs   []rec
	next   int  // first record not yet merged
	sorted bool // recs[next:] is in time order
	last   uint64
}

// add indexes the records of ch that the recorder writes (see recordTime);
// it returns how many records the chunk held and how many trailing bytes
// were malformed and skipped (a corrupt header ends the chunk).
func (q *cpuQueue) add(ch *chunk) (records, bad int) {
	b := ch.data
	// Grow the index once per chunk, for its most records (40 bytes is the
	// smallest sample), rather than step by step: while recording the GC is
	// mostly off, so every outgrown index would be fresh memory.
	if need := len(q.recs) + len(b)/40; need > cap(q.recs) {
		q.recs = slices.Grow(q.recs, max(need, 2*cap(q.recs))-len(q.recs))
	}
	off := 0
	for off+8 <= len(b) {
		size := int(uint16(b[off+6]) | uint16(b[off+7])<<8)
		if size < 8 || off+size > len(b) {
			return records, len(b) - off
		}
		records++
		if t, ok := recordTime(b[off : off+size]); ok {
			q.push(t, off, size, ch)
		}
		off += size
	}
	return records, len(b) - off
}

// push indexes the record of size bytes at off in ch, of time t.
func (q *cpuQueue) push(t uint64, off, size int, ch *chunk) {
	if t < q.last {
		q.sorted = false
	}
	q.last = t
	if len(q.recs) == cap(q.recs) {
		// Double, as add grows once per chunk: append grows large
		// slices by a quarter, and every outgrown index is garbage.
		q.recs = slices.Grow(q.recs, max(cap(q.recs), 4096))
	}
	q.recs = append(q.recs, rec{time: t, off: uint32(off), size: uint32(size), ch: ch})
	ch.live++
}

// recordTime returns the time of the record types the recorder writes;
// it reports false for the others, which are skipped.
func recordTime(r []byte) (uint64, bool) {
	switch typ, _, _ := perf.RecordHeader(r); typ {
	case perf.RecordSample, perf.RecordComm, perf.RecordFork, perf.RecordExit, perf.RecordLost, perf.RecordLostSamples, perf.RecordMmap:
		t, _, ok := perf.RecordTime(r)
		return t, ok
	}
	return 0, false
}

// sort puts the pending records in time order, keeping the ring order of
// records with equal times.
func (q *cpuQueue) sort() {
	if q.sorted {
		return
	}
	slices.SortStableFunc(q.recs[q.next:], func(a, b rec) int {
		switch {
		case a.time < b.time:
			return -1
		case a.time > b.time:
			return 1
		}
		return 0
	})
	q.sorted = true
}

// compact drops the merged records from the index.
func (q *cpuQueue) compact() {
	n := copy(q.recs, q.recs[q.next:])
	clear(q.recs[n:]) // drop chunk references
	q.recs, q.next = q.recs[:n], 0
}

// merger k-way merges the CPU queues with a binary heap keyed by each
// queue's next record time.
type merger struct {
	heap []int // queue indices
	qs   []*cpuQueue
}

func (m *merger) less(i, j int) bool {
	a, b := m.qs[m.heap[i]], m.qs[m.heap[j]]
	ta, tb := a.recs[a.next].time, b.recs[b.next].time
	if ta != tb {
		return ta < tb
	}
	return m.heap[i] < m.heap[j]
}

func (m *merger) down(i int) {
	n := len(m.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && m.less(r, l) {
			c = r
		}
		if !m.less(c, i) {
			return
		}
		m.heap[i], m.heap[c] = m.heap[c], m.heap[i]
		i = c
	}
}

// run calls emit, in time order, for every pending record with time <=
// cutoff, across all queues, and release for each chunk whose records are
// all written.
func (m *merger) run(cutoff uint64, emit func(q int, r []byte) error, release func(*chunk)) error {
	m.heap = m.heap[:0]
	for i, q := range m.qs {
		q.sort()
		if q.next < len(q.recs) && q.recs[q.next].time <= cutoff {
			m.heap = append(m.heap, i)
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	for len(m.heap) > 0 {
		qi := m.heap[0]
		q := m.qs[qi]
		// Emit the top queue's run of records that sort before every other
		// queue's next one in bulk: rings rarely interleave record by record.
		limit, strict := cutoff, false
		if len(m.heap) > 1 {
			o := m.heap[1]
			if len(m.heap) > 2 && m.less(2, 1) {
				o = m.heap[2]
			}
			oq := m.qs[o]
			if t := oq.recs[oq.next].time; t <= limit {
				limit, strict = t, o < qi // equal times: lower queue first
			}
		}
		recs := q.recs
		for {
			r := recs[q.next]
			q.next++
			if err := emit(qi, r.ch.data[r.off:r.off+r.size]); err != nil {
				return err
			}
			if r.ch.live--; r.ch.live == 0 && release != nil {
				release(r.ch)
			}
			if q.next >= len(recs) {
				break
			}
			if t := recs[q.next].time; t > limit || t == limit && strict {
				break
			}
		}
		if q.next < len(q.recs) && q.recs[q.next].time <= cutoff {
			m.down(0)
		} else {
			last := len(m.heap) - 1
			m.heap[0] = m.heap[last]
			m.heap = m.heap[:last]
			if last > 0 {
				m.down(0)
			}
		}
	}
	return nil
}
