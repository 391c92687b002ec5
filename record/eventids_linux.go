//go:build linux

package record

import "github.com/kpcap/kpcap/record/internal/perf"

func (c *capture) register(fd int, src int32) error {
	id, err := perf.ID(fd)
	if err != nil {
		return err
	}
	c.ids[id] = src
	return nil
}

// buildDense turns the id map into a slice when the ids are close together
// (they are handed out sequentially), sparing a map lookup per sample.
func (c *capture) buildDense() {
	lo, hi := ^uint64(0), uint64(0)
	for id := range c.ids {
		lo, hi = min(lo, id), max(hi, id)
	}
	if len(c.ids) == 0 || hi-lo > 1<<16 {
		return
	}
	c.minID = lo
	c.denseIDs = make([]int32, hi-lo+1)
	for i := range c.denseIDs {
		c.denseIDs[i] = -2
	}
	for id, s := range c.ids {
		c.denseIDs[id-lo] = s
	}
}

// sourceOf maps a sample id to its source: -1 dummy, -2 unknown.
func (c *capture) sourceOf(id uint64) int32 {
	if c.denseIDs != nil {
		if i := id - c.minID; i < uint64(len(c.denseIDs)) {
			return c.denseIDs[i]
		}
		return -2
	}
	if s, ok := c.ids[id]; ok {
		return s
	}
	return -2
}
