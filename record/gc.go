package record

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// The recorder's heap is nearly all long-lived buffers (chunks, frames,
// encoder windows) and a steady capture makes almost no garbage. At Go's
// default pacing, the buffers growing in the first second trigger
// collections that mark little garbage yet cost about a tenth of a short
// capture's CPU (idle mark workers included). So, unless the user set GOGC
// or GOMEMLIMIT, a recording runs with the GC off under a memory limit: it
// collects only when the heap reaches recordMemLimit. Should the live heap
// grow past half of that (huge symbol tables, a writer far behind), the
// tuner falls back to proportional pacing, so that the limit never makes
// the GC run back to back. 128 MiB bounds what a long capture's slow trickle
// of garbage (task names, metadata blocks) can add to the recorder's
// footprint; a busy capture's live heap is 20-40 MB.
const (
	recordMemLimit = 128 << 20
	fallbackGCPct  = 400 // GOGC once the live heap outgrew the limit's half
)

// gcTuner switches the GC to limit-based collection for a recording.
type gcTuner struct {
	active     bool
	limit      int64
	oldPct     int
	oldLimit   int64
	samples    []metrics.Sample
	lastCycles uint64
	fellBack   bool
}

// tuneGC starts limit-based collection at limit bytes; restore undoes it.
func tuneGC(limit int64) *gcTuner {
	t := &gcTuner{limit: limit}
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return t
	}
	t.active = true
	t.samples = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(t.samples)
	t.lastCycles = t.cycles()
	t.oldLimit = debug.SetMemoryLimit(limit)
	t.oldPct = debug.SetGCPercent(-1)
	return t
}

func (t *gcTuner) cycles() uint64 {
	if v := t.samples[0].Value; v.Kind() == metrics.KindUint64 {
		return v.Uint64()
	}
	return 0
}

// check runs now and then (at merge passes): after a collection, it falls
// back to proportional pacing if the live heap passed half the limit.
func (t *gcTuner) check() {
	if t == nil || !t.active || t.fellBack {
		return
	}
	metrics.Read(t.samples)
	c := t.cycles()
	if c == t.lastCycles {
		return
	}
	t.lastCycles = c
	if v := t.samples[1].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > uint64(t.limit/2) {
		debug.SetGCPercent(fallbackGCPct)
		debug.SetMemoryLimit(math.MaxInt64)
		t.fellBack = true
	}
}

// restore puts the process's GC settings back.
func (t *gcTuner) restore() {
	if !t.active {
		return
	}
	debug.SetGCPercent(t.oldPct)
	debug.SetMemoryLimit(t.oldLimit)
}
