//go:build linux

package record

import "sync"

// smallChunk is the size of the chunks for rings with little pending
// data, so that quiet rings do not pin large chunks against the memory cap.
const smallChunk = 16 << 10

// getChunk returns a pooled chunk, a new one, or nil when chunk memory
// (in use or pooled) has reached memCap and overCap is false. Chunks are pooled rather than
// left to the GC: fresh memory costs a page fault per 4 KiB copied.
func (c *capture) getChunk(pending int, overCap bool) *chunk {
	large, size := true, c.chunkBytes
	if pending <= smallChunk {
		large, size = false, smallChunk
	}
	if ch := c.pool.get(large); ch != nil {
		return ch
	}
	if c.inflight.Load() >= c.memCap && !overCap {
		// Pooled chunks of the other size count against the cap too.
		return c.pool.get(!large)
	}
	c.inflight.Add(int64(size))
	return &chunk{data: make([]byte, 0, size)}
}

// release recycles a chunk whose records are all written (it stays
// counted in inflight).
func (c *capture) release(ch *chunk) {
	ch.live = 0
	c.pool.put(ch, cap(ch.data) >= c.chunkBytes)
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
