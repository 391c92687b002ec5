package analyze

import (
	"cmp"
	"slices"

	"github.com/kpcap/kpcap/analyze/latency"
	"google.golang.org/protobuf/encoding/protowire"
)

// heldPair is a completed pair waiting for its thread's stack to empty, so
// that nested pairs starting at the same nanosecond are written outermost
// first (trace_processor orders equal timestamps by file position).
type heldPair struct {
	start, end uint64
	seq        uint64 // completion order: among equal intervals the later one is outer
	track      uint64
	name       uint64
	entry      []byte // encoded TrackEvent fields of the begin (annotations, callstack)
	exit       []byte // of the end
}

// pairEntry hands entry event i to the pairer with its fields and stack,
// encoded after its source so that an entry that never pairs can still be
// written as an instant.
func (pw *perfettoWriter) pairEntry(i, src int, ts uint64, k latency.Key, ps *pfSource, stack int64) {
	t := &pw.tmp
	t.b = protowire.AppendVarint(t.b[:0], uint64(src))
	pw.annotations(t, i, ps, pw.annot.entry)
	pw.callstack(t, stack)
	pw.pairer.Entry(k, ps.fn, ts, latency.Payload{StackID: stack, Aux: pw.keep(t.b)})
}

// pairExit completes the pair that return event i ends: a slice written at
// once when nothing is open or held below it on its thread, else held (see
// hold); a return without its entry is an instant.
func (pw *perfettoWriter) pairExit(i int, ts uint64, k latency.Key, track uint64, ps *pfSource, stack int64) {
	pr, ok := pw.pairer.Exit(k, ps.fn, ts)
	if !ok {
		pw.res.UnmatchedReturns++
		pw.instant(ts, track, ps.name, i, ps, stack, true)
		return
	}
	_, n := protowire.ConsumeVarint(pr.Aux)
	hp := heldPair{start: pr.Start, end: pr.Start + pr.Dur, track: track, name: pw.funcName[ps.fn], entry: pr.Aux[n:]}
	if (pw.heldCount == 0 || len(pw.held[k.N]) == 0) && pw.pairer.Open(k) == 0 {
		// Nothing open below and nothing held: the pair is
		// written as it completes, the return's fields in place.
		pw.sliceBegin(&hp)
		e := pw.startEvent(ts, pfTypeSliceEnd, track)
		pw.annotations(e, i, ps, pw.annot.ret)
		pw.callstack(e, stack)
		pw.endEvent()
		return
	}
	t := &pw.tmp
	t.b = t.b[:0]
	pw.annotations(t, i, ps, pw.annot.ret)
	pw.callstack(t, stack)
	pw.seq++
	hp.seq, hp.exit = pw.seq, pw.keep(t.b)
	pw.hold(k, hp)
}

// unmatchedEntry writes an entry that will never pair as an instant.
func (pw *perfettoWriter) unmatchedEntry(k latency.Key, fn int, ts uint64, pl latency.Payload) {
	src, n := protowire.ConsumeVarint(pl.Aux)
	if n < 0 || int(src) >= len(pw.srcs) {
		return
	}
	pw.res.UnmatchedEntries++
	e := pw.startEvent(ts, pfTypeInstant, pw.keyTrack(k))
	e.varint(pfEventNameIID, pw.srcs[src].name)
	e.b = append(e.b, pl.Aux[n:]...)
	boolAnnotation(e, pw.annot.unmatched)
	pw.endEvent()
	pw.res.Instants++
}

// keep copies b into the slab; the copy's capacity ends with it, so an
// append never spills into the next one.
func (pw *perfettoWriter) keep(b []byte) []byte {
	if len(b) > 1<<12 {
		return slices.Clone(b)
	}
	if cap(pw.slab)-len(pw.slab) < len(b) {
		pw.slab = make([]byte, 0, 16<<10)
	}
	n := len(pw.slab)
	pw.slab = append(pw.slab, b...)
	return pw.slab[n:len(pw.slab):len(pw.slab)]
}

// hold keeps a completed pair until nothing is open below it on its thread,
// then writes the thread's held pairs outermost first.
func (pw *perfettoWriter) hold(k latency.Key, hp heldPair) {
	pw.held[k.N] = append(pw.held[k.N], hp)
	pw.heldCount++
	if pw.pairer.Open(k) == 0 || pw.heldCount >= maxHeldPairs {
		pw.release(k)
	}
}

// release writes the held pairs of k as properly nested begin/end events.
func (pw *perfettoWriter) release(k latency.Key) {
	hs := pw.held[k.N]
	if len(hs) == 0 {
		return
	}
	if len(hs) > 1 {
		slices.SortFunc(hs, func(a, b heldPair) int {
			return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end), cmp.Compare(b.seq, a.seq))
		})
	}
	var open []*heldPair
	for j := range hs {
		h := &hs[j]
		for len(open) > 0 && !encloses(open[len(open)-1], h) {
			pw.sliceEnd(open[len(open)-1])
			open = open[:len(open)-1]
		}
		pw.sliceBegin(h)
		open = append(open, h)
	}
	for len(open) > 0 {
		pw.sliceEnd(open[len(open)-1])
		open = open[:len(open)-1]
	}
	pw.heldCount -= len(hs)
	clear(hs)
	pw.held[k.N] = hs[:0]
	if cap(hs) > 64 {
		delete(pw.held, k.N)
	}
}

// encloses reports whether o is an ancestor of h: it started no later,
// ended no earlier, and completed after h.
func encloses(o, h *heldPair) bool {
	return o.start <= h.start && h.end <= o.end && o.seq > h.seq
}

// sliceBegin writes the begin of a pair's slice with the entry's fields.
func (pw *perfettoWriter) sliceBegin(h *heldPair) {
	e := pw.startEvent(h.start, pfTypeSliceBegin, h.track)
	e.varint(pfEventNameIID, h.name)
	e.b = append(e.b, h.entry...)
	pw.endEvent()
	pw.res.Slices++
}

// sliceEnd writes the end of a pair's slice with the return's fields.
func (pw *perfettoWriter) sliceEnd(h *heldPair) {
	e := pw.startEvent(h.end, pfTypeSliceEnd, h.track)
	e.b = append(e.b, h.exit...)
	pw.endEvent()
}
