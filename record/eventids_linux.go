//go:build linux

package record

import "github.com/kpcap/kpcap/record/internal/perf"

// eventIDs maps the perf event id in each sample to its source.
type eventIDs struct {
	ids   map[uint64]int32 // id -> source index; -1 for the per-CPU dummy events
	dense []int32          // ids[minID+i], -2 for none; used when ids are compact
	minID uint64
}

// register records that the event fd belongs to source sre.
func (e *eventIDs) register(fd int, src int32) error {
	id, err := perf.ID(fd)
	if err != nil {
		return err
	}
	e.ids[id] = src
	return nil
}

// buildDense turns the id map into a slice when the ids are close together
// (they are handed out sequentially), sparing a map lookup per sample.
func (e *eventIDs) buildDense() {
	lo, hi := ^uint64(0), uint64(0)
	for id := range e.ids {
		lo, hi = min(lo, id), max(hi, id)
	}
	if len(e.ids) == 0 || hi-lo > 1<<16 {
		return
	}
	e.minID = lo
	e.dense = make([]int32, hi-lo+1)
	for i := range e.dense {
		e.dense[i] = -2
	}
	for id, s := range e.ids {
		e.dense[id-lo] = s
	}
}

// sourceOf maps a sample id to its source: -1 dummy, -2 unknown.
func (e *eventIDs) sourceOf(id uint64) int32 {
	if e.dense != nil {
		if i := id - e.minID; i < uint64(len(e.dense)) {
			return e.dense[i]
		}
		return -2
	}
	if s, ok := e.ids[id]; ok {
		return s
	}
	return -2
}
