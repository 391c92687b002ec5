//go:build linux

package record

import (
	"sync"
	"sync/atomic"

	"github.com/kpcap/kpcap/record/internal/perf"
)

// smallChunk is the size of the chunks for rings with little pending
// data, so that quiet rings do not pin large chunks against the memory cap.
const smallChunk = 16 << 10

// chunkMemory is the memory of copied ring data between the reader and the
// writer: chunks of two sizes, pooled, under a cap.
type chunkMemory struct {
	pool       chunkPool
	inflight   atomic.Int64 // bytes of chunk memory in use or pooled
	chunkBytes int          // size of the large chunks
	memCap     int64
}

// size sets the memory cap (memCap, if set, overrides it) and the large
// chunk size for these rings and a BPF ring of bpfBytes (0: none), which
// the per-CPU chunks take their share of as the perf rings' do.
func (m *chunkMemory) size(rings []*perf.Ring, bpfBytes int, memCap int64) {
	ringTotal := bpfBytes
	for _, r := range rings {
		ringTotal += r.Size()
	}
	m.memCap = int64(max(4*ringTotal, 64<<20))
	if memCap > 0 {
		m.memCap = memCap
	}
	// Chunks have one fixed size and are all pooled: fresh memory would
	// cost a page fault per 4 KiB copied. A quarter ring (the wakeup
	// watermark) holds what a busy ring gathers between two passes, so that
	// a read is rarely cut short (which costs a walk over its records).
	m.chunkBytes = min(max(ringTotal/len(rings)/4, smallChunk), 4<<20)
}

// getChunk returns a pooled chunk, a new one, or nil when chunk memory
// (in use or pooled) has reached memCap and overCap is false. Chunks are pooled rather than
// left to the GC: fresh memory costs a page fault per 4 KiB copied.
func (m *chunkMemory) getChunk(pending int, overCap bool) *chunk {
	large, size := true, m.chunkBytes
	if pending <= smallChunk {
		large, size = false, smallChunk
	}
	if ch := m.pool.get(large); ch != nil {
		return ch
	}
	if m.inflight.Load() >= m.memCap && !overCap {
		// Pooled chunks of the other size count against the cap too.
		return m.pool.get(!large)
	}
	m.inflight.Add(int64(size))
	return &chunk{data: make([]byte, 0, size)}
}

// release recycles a chunk whose records are all written (it stays
// counted in inflight).
func (m *chunkMemory) release(ch *chunk) {
	ch.live = 0
	m.pool.put(ch, cap(ch.data) >= m.chunkBytes)
}

// chunkPool holds the chunks free for reuse, large and small. It hands out
// the most recently released one first: its pages are mapped and likely
// still in cache, and a steady capture cycles through few chunks, where a
// FIFO would touch every chunk ever allocated.
type chunkPool struct {
	mu           sync.Mutex
	large, small []*chunk
}

func (p *chunkPool) get(large bool) *chunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.small
	if large {
		s = &p.large
	}
	n := len(*s)
	if n == 0 {
		return nil
	}
	ch := (*s)[n-1]
	(*s)[n-1] = nil
	*s = (*s)[:n-1]
	return ch
}

func (p *chunkPool) put(ch *chunk, large bool) {
	p.mu.Lock()
	if large {
		p.large = append(p.large, ch)
	} else {
		p.small = append(p.small, ch)
	}
	p.mu.Unlock()
}
