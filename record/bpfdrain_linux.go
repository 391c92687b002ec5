//go:build linux

package record

import (
	"encoding/binary"
	"time"

	"github.com/kpcap/kpcap/record/internal/bpfprog"
	"github.com/kpcap/kpcap/record/internal/bpfring"
)

// The recorder side of the BPF path: the reader copies the BPF ring's
// bytes out in bulk, records and their ring headers as they lie; the
// writer indexes each record in its CPU's BPF queue and writes it straight
// from the copy. No perf SAMPLE record is made in between: the ring's
// record says all a sample needs.

// bpfItem is the queue number of items carrying BPF ring bytes: the writer
// spreads their records over the BPF queues by CPU.
const bpfItem = -1

// stack is how many entries of each call stack the programs record.
func (b *bpfCapture) stack() int {
	if b.callchain {
		return maxStack
	}
	return 0
}

// drainBPF copies the BPF ring's records into chunks and sends them to the
// writer. Unless final it reads at most what the ring held when it
// started, and it stops early (throttled) when chunk memory is at its cap,
// leaving the rest to the ring. The ring's space goes back to the kernel
// once per chunk copied, not once per record: the programs read the
// consumer position on every reservation, and a store per record would
// keep its cache line moving between CPUs.
func (c *capture) drainBPF(send func(item) bool, final bool) (throttled, ok bool) {
	b := c.bpf
	budget := b.rd.Available()
	for final || budget > 0 {
		ch := c.getChunk(budget, final)
		if ch == nil {
			return true, true // over the memory cap: the ring holds the rest
		}
		before := cap(ch.data)
		var cp bpfring.Copied
		var err error
		ch.data, cp, err = b.rd.CopyInto(ch.data[:0]) // pooled chunks keep their old bytes
		c.inflight.Add(int64(cap(ch.data) - before))  // a record larger than the chunk
		b.rd.Release()
		if err != nil {
			b.malformed.Add(1)
		}
		if len(ch.data) == 0 {
			c.release(ch)
			return throttled, true
		}
		budget -= len(ch.data)
		b.records += uint64(cp.Records)
		if cp.Last >= 0 && cp.Last+bpfprog.HeaderLen <= len(ch.data) {
			b.last = binary.NativeEndian.Uint64(ch.data[cp.Last+8:])
		}
		if !send(item{q: bpfItem, ch: ch}) {
			return throttled, false
		}
		if !cp.Full || err != nil {
			return throttled, true
		}
	}
	return throttled, true
}

// addBPF indexes the records of a chunk of BPF ring bytes in the BPF
// queues of their CPUs; it returns how many records the chunk held and
// whether any could not be read.
func (c *capture) addBPF(ch *chunk) (records int, bad bool) {
	b := c.bpf
	ne := binary.NativeEndian
	for off := 0; off < len(ch.data); {
		n, next, discarded, ok := bpfring.FrameAt(ch.data, off)
		if !ok {
			return records, true
		}
		start := off + bpfring.DataOff
		off = next
		if discarded {
			continue
		}
		records++
		if n < bpfprog.HeaderLen {
			bad = true
			continue
		}
		rec := ch.data[start : start+n]
		q := b.q0
		if cpu := int(ne.Uint32(rec[4:])); cpu < len(b.qOf) {
			q += b.qOf[cpu]
		}
		c.qs[q].push(ne.Uint64(rec[8:]), start, n, ch)
	}
	return records, bad
}

// emitBPF writes one BPF ring record of queue qi as a sample.
func (c *capture) emitBPF(qi int, rec []byte) error {
	b := c.bpf
	var r bpfprog.Record
	rec, cgroup, ok := b.bpfSplitCgroup(rec)
	if !ok || !bpfprog.Decode(rec, &r) || int(r.Source) >= len(b.srcs) {
		c.unmatched++
		return nil
	}
	c.emitted(r.Time)
	if c.aborted.Load() {
		return errForced // a forced stop: account counts the rest lost
	}
	if c.limits.full {
		return nil // --max-size reached: account counts the rest lost
	}
	i := int(r.Source)
	src := int(b.srcs[i])
	so := c.sources[src]
	raw, stack := b.bpfPayload(i, r.Raw)
	// The trace_entry the kernel hid from the program: common_type and
	// common_pid (flags and preempt count stay 0).
	if len(raw) >= 8 {
		binary.NativeEndian.PutUint16(raw, b.types[i])
		binary.NativeEndian.PutUint32(raw[4:], r.TID)
	}
	c.weightCPU[src][qi]++
	if !c.bpfInScope(so, r.TID, r.Time) {
		c.filteredCPU[src][qi]++
		return nil
	}
	s := &c.sample
	s.Source, s.Time, s.CPU, s.PID, s.TID = uint32(src), r.Time, r.CPU, r.PID, r.TID
	s.Period, s.HasPeriod = 1, false
	s.Raw = raw[:so.layout.rawLen(raw)]
	if c.opts.CallGraph {
		s.Callchain = bpfChain(s.Callchain[:0], stack)
		c.syms.see(r.PID, s.Callchain)
	}
	if err := c.bpfSampleCgroup(r.PID, r.TID, r.Time, cgroup); err != nil {
		return err
	}
	c.recvCPU[src][qi]++
	c.lastNS = r.Time
	return c.writeSample(s)
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
	var want uint64
	for i := range b.srcs {
		hits, lost, err := b.set.Counts(i)
		if err != nil {
			return true
		}
		for cpu := range hits {
			want += hits[cpu] - lost[cpu]
		}
	}
	return want == b.records
}
