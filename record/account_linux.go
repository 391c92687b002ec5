//go:build linux

package record

import (
	"fmt"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
)

// counters are the capture's counts: per source and per ring (queue).
type counters struct {
	drop    []uint64   // per source
	recvCPU [][]uint64 // [source][queue] samples written
	// weightCPU sums the periods of the samples written or filtered out,
	// [source][queue]: what the counters count (see account).
	weightCPU   [][]uint64
	filteredCPU [][]uint64 // [source][queue] wide samples of other tasks
	counted     []bool     // per source: a tracepoint passing a count (__perf_count)
	lostCPU     []uint64   // [queue] ring loss the kernel reported
	lostTotal   uint64
	unmatched   uint64
	records     uint64
	late        uint64 // records older than one already written (beyond the lag window)
	malformed   uint64 // chunks with a corrupt record (never expected)
	emittedNS   uint64 // the newest record written
	startNS     uint64
	lastNS      uint64 // the newest sample written
}

// perQueue makes the per-source, per-queue counts once the rings are open.
func (k *counters) perQueue(sources []*source, queues int) {
	k.recvCPU = make([][]uint64, len(sources))
	k.filteredCPU = make([][]uint64, len(sources))
	k.weightCPU = make([][]uint64, len(sources))
	k.counted = make([]bool, len(sources))
	for i := range k.recvCPU {
		k.recvCPU[i] = make([]uint64, queues)
		k.filteredCPU[i] = make([]uint64, queues)
		k.weightCPU[i] = make([]uint64, queues)
		k.counted[i] = countedTracepoint(sources[i].desc.Name)
	}
	k.lostCPU = make([]uint64, queues)
}

// received returns the samples of source i written so far.
func (k *counters) received(i int) uint64 {
	var n uint64
	for _, v := range k.recvCPU[i] {
		n += v
	}
	return n
}

// account settles the loss exactly once the events are disabled: each
// event's counter says how often it fired; whatever was not written is
// lost. This also catches the loss the kernel had not reported yet (it
// writes a LOST record only when the ring has room again, which never
// happens once recording stops). The unreported part is written as final
// Lost records, per CPU.
//
// A counted tracepoint's counter sums the counts of its hits, not the hits:
// its loss shows as counts missing, and the number of samples behind them
// is the ring's reported loss beyond the other sources' (at least one).
func (c *capture) account() error {
	fired, err := c.firedCounts()
	if err != nil {
		return err
	}
	end := max(c.lastNS, monotonicNS())
	c.lostTotal = 0
	for q := range c.qs {
		if err := c.settleCPU(q, c.lostOn(q, fired), end); err != nil {
			return err
		}
	}
	if err := c.bpfMisses(end); err != nil {
		return err
	}
	// Hits the kernel missed never reach the counters: kretprobe instances
	// beyond maxactive are only in kprobe_profile.
	for i, s := range c.sources {
		if n, ok := c.resolver.probeMisses(s); ok && n > 0 {
			c.drop[i] += n
			c.lostTotal += n
			if err := c.out.AddLost(format.Lost{Time: end, CPU: ^uint32(0), Source: uint32(i), Count: n}); err != nil {
				return writeError(c.opts.Output, err)
			}
		}
	}
	return nil
}

// firedCounts reads how often each source's events fired, per source and
// ring.
func (c *capture) firedCounts() ([][]uint64, error) {
	fired := make([][]uint64, len(c.sources))
	for i := range fired {
		fired[i] = make([]uint64, len(c.qs))
	}
	for _, sf := range c.srcFDs {
		n, err := perf.Count(sf.fd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.sources[sf.src].desc.Name, err)
		}
		fired[sf.src][sf.q] += n
	}
	return fired, c.bpfFired(fired)
}

// lostOn returns each source's samples lost on ring q: fired but neither
// received nor filtered out; for counted sources, the ring's reported loss
// beyond the other sources' (at least one each).
func (c *capture) lostOn(q int, fired [][]uint64) []uint64 {
	lostOf := make([]uint64, len(c.sources))
	var countedLost []int // counted sources with counts missing
	for s := range c.sources {
		if c.counted[s] {
			if fired[s][q] > c.weightCPU[s][q] {
				countedLost = append(countedLost, s)
			}
			continue
		}
		if got := c.recvCPU[s][q] + c.filteredCPU[s][q]; fired[s][q] > got {
			lostOf[s] = fired[s][q] - got
		}
	}
	if len(countedLost) > 0 {
		var others uint64
		for _, d := range lostOf {
			others += d
		}
		ring := c.lostCPU[q] - min(c.lostCPU[q], others)
		for i, s := range countedLost {
			lostOf[s] = 1
			if i == 0 {
				lostOf[s] = max(1, ring-min(ring, uint64(len(countedLost)-1)))
			}
		}
	}
	return lostOf
}

// settleCPU counts the loss of ring q (lostOf, per source) and writes, at
// end, the part the kernel did not report as Lost records.
func (c *capture) settleCPU(q int, lostOf []uint64, end uint64) error {
	missing := uint64(0)
	single := int32(-1)
	for s, d := range lostOf {
		if d == 0 {
			continue
		}
		c.drop[s] += d
		missing += d
		if single == -1 {
			single = int32(s)
		} else {
			single = -2
		}
	}
	c.lostTotal += missing
	if missing > 0 && c.lostCPU[q] == 0 && single == -2 {
		// No loss reported by the kernel on this CPU (a forced stop
		// discarding what was read or left in the ring): the counters
		// give each source's share exactly.
		for s, d := range lostOf {
			if d > 0 {
				if err := c.out.AddLost(format.Lost{Time: end, CPU: c.cpuOf[q], Source: uint32(s), Count: d}); err != nil {
					return writeError(c.opts.Output, err)
				}
			}
		}
		return nil
	}
	if missing > c.lostCPU[q] {
		l := format.Lost{Time: end, CPU: c.cpuOf[q], Source: ^uint32(0), Count: missing - c.lostCPU[q]}
		if single >= 0 {
			l.Source = uint32(single)
		}
		if err := c.out.AddLost(l); err != nil {
			return writeError(c.opts.Output, err)
		}
	}
	return nil
}

// stats returns the counts so far.
func (c *capture) stats() Stats {
	st := Stats{Lost: c.lostTotal, Unmatched: c.unmatched, Records: c.records, Late: c.late, Malformed: c.malformed + c.bpfMalformed()}
	st.Elapsed = time.Duration(monotonicNS() - c.startNS)
	for i, s := range c.sources {
		n := c.received(i)
		st.Samples += n
		st.Sources = append(st.Sources, SourceStats{Name: s.desc.Name, Kind: s.desc.Kind.String(), Samples: n, Lost: c.drop[i]})
	}
	if c.out != nil {
		st.Bytes, st.RawBytes = c.out.CompressedBytes(), c.out.RawBytes()
		if c.rot != nil {
			if c.closed {
				st.Bytes, st.RawBytes = 0, 0 // counted in closedBytes
			}
			st.Bytes += c.rot.closedBytes
			st.RawBytes += c.rot.closedRaw
		}
		if c.snap != nil {
			// What reached the disk: the snapshots.
			st.Bytes = 0
			for _, f := range c.snap.files {
				st.Bytes += f.Bytes
			}
		}
	}
	return st
}
