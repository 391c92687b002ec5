//go:build linux

package record

import (
	"encoding/binary"
	"time"

	"github.com/kpcap/kpcap/record/internal/bpfprog"
	"github.com/kpcap/kpcap/record/internal/perf"
)

// The recorder side of the BPF path: draining the BPF ring into perf
// SAMPLE records that the merge and the file take as they take the perf
// rings' samples.

// stack is how many entries of each call stack the programs record.
func (b *bpfCapture) stack() int {
	if b.callchain {
		return maxStack
	}
	return 0
}

// bpfSampleLen is the size of the perf SAMPLE record made from a payload
// of n bytes: header, identifier, pid/tid, time, cpu/res, period, with
// call chains the chain's length and its chain entries, then the u32 size
// and the payload, padded to 8.
func (b *bpfCapture) bpfSampleLen(n, chain int) int {
	if b.callchain {
		n += 8 + 8*chain
	}
	return (perf.HeaderLen + 40 + 4 + n + 7) &^ 7
}

// appendSample appends the perf SAMPLE record (kpcap's layout,
// perf.SampleType) that the perf path would have read for r, so the rest
// of the recorder handles both paths alike. The call chain is b.chain.
func (b *bpfCapture) appendSample(dst []byte, i int, r *bpfprog.Record, raw []byte) []byte {
	ne := binary.NativeEndian
	size := b.bpfSampleLen(len(raw), len(b.chain))
	begin := len(dst)
	dst = ne.AppendUint32(dst, perf.RecordSample)
	dst = ne.AppendUint16(dst, 0)
	dst = ne.AppendUint16(dst, uint16(size))
	dst = ne.AppendUint64(dst, b.ids[i])
	dst = ne.AppendUint32(dst, r.PID)
	dst = ne.AppendUint32(dst, r.TID)
	dst = ne.AppendUint64(dst, r.Time)
	dst = ne.AppendUint32(dst, r.CPU)
	dst = ne.AppendUint32(dst, 0)
	dst = ne.AppendUint64(dst, 1) // period
	if b.callchain {
		dst = ne.AppendUint64(dst, uint64(len(b.chain)))
		for _, ip := range b.chain {
			dst = ne.AppendUint64(dst, ip)
		}
	}
	start := len(dst) + 4
	dst = ne.AppendUint32(dst, uint32(len(raw)))
	dst = append(dst, raw...)
	// The trace_entry the kernel hid from the program: common_type and
	// common_pid (flags and preempt count stay 0).
	if len(raw) >= 8 {
		ne.PutUint16(dst[start:], b.types[i])
		ne.PutUint32(dst[start+4:], r.TID)
	}
	for len(dst)-begin < size {
		dst = append(dst, 0)
	}
	return dst
}

// bpfReleaseBytes is how much of the BPF ring a drain reads between
// handing space back to the kernel.
const bpfReleaseBytes = 256 << 10

// drainBPF copies the BPF ring's records into per-CPU chunks, as perf
// SAMPLE records, and sends them to the writer. Unless final it reads at
// most what the ring held when it started, and it stops early (throttled)
// when chunk memory is at its cap, leaving the rest to the ring. The
// ring's space goes back to the kernel once per chunk sent, not once per
// record: the programs read the consumer position on every reservation,
// and a store per record would keep its cache line moving between CPUs.
func (c *capture) drainBPF(send func(item) bool, final bool) (throttled, ok bool) {
	b := c.bpf
	defer b.rd.Release()
	budget := b.rd.Available()
	held := 0 // bytes read since the last release
	var r bpfprog.Record
	for final || budget > 0 {
		if held >= bpfReleaseBytes {
			b.rd.Release() // the records read so far are copied out
			held = 0
		}
		rec, err := b.rd.Next()
		if err != nil {
			b.malformed.Add(1)
			break
		}
		if rec == nil {
			break
		}
		budget -= len(rec) + 8
		held += len(rec) + 8
		if !bpfprog.Decode(rec, &r) || int(r.Source) >= len(b.srcs) {
			b.malformed.Add(1)
			continue
		}
		i := int(r.Source)
		raw := r.Raw[:min(len(r.Raw), c.sources[b.srcs[i]].layout.fixed)]
		if b.callchain {
			b.chain = bpfChain(b.chain[:0], b.bpfStackPart(i, r.Raw))
		}
		q := 0
		if int(r.CPU) < len(b.qOf) {
			q = b.qOf[r.CPU]
		}
		need := b.bpfSampleLen(len(raw), len(b.chain))
		ch := b.cur[q]
		if ch != nil && len(ch.data)+need > cap(ch.data) {
			if !send(item{q: q, ch: ch}) {
				return throttled, false
			}
			ch = nil
		}
		if ch == nil {
			if ch = c.getChunk(budget, false); ch == nil {
				// Over the memory cap: keep this record (it is out of the
				// ring already) and leave the rest in the ring.
				ch, throttled = c.getChunk(budget, true), true
			}
			ch.data = ch.data[:0] // pooled chunks keep their old bytes
			b.cur[q] = ch
		}
		ch.data = b.appendSample(ch.data, i, &r, raw)
		b.read[i]++
		b.last = r.Time
		if throttled && !final {
			break
		}
	}
	for q, ch := range b.cur {
		if ch != nil {
			b.cur[q] = nil
			if !send(item{q: q, ch: ch}) {
				return throttled, false
			}
		}
	}
	return throttled, true
}

// finalDrainBPF drains the ring after the gate closed until every event a
// program counted is read or counted lost (a program that passed the gate
// just before it closed may still be writing), or a short while passed.
func (c *capture) finalDrainBPF(send func(item) bool) bool {
	deadline := time.Now().Add(250 * time.Millisecond)
	for {
		if _, ok := c.drainBPF(send, true); !ok {
			return false
		}
		if c.bpfSettled() || time.Now().After(deadline) {
			return true
		}
		time.Sleep(time.Millisecond)
	}
}

// bpfSettled reports whether every event counted by the programs is read
// or counted lost.
func (c *capture) bpfSettled() bool {
	b := c.bpf
	for i := range b.srcs {
		hits, lost, err := b.set.Counts(i)
		if err != nil {
			return true
		}
		var n uint64
		for cpu := range hits {
			n += hits[cpu] - lost[cpu]
		}
		if n != b.read[i] {
			return false
		}
	}
	return true
}
