package replay

import (
	"strings"
	"unicode/utf8"

	"github.com/kpcap/kpcap/format"
)

// sampleDecoder makes, for one raw sample, the decisions the Reader makes
// when it decodes it (kept or not, comm, truncated, string field values),
// without building Arrow columns: the counting pass (Count) reads frames
// with format.ForEachSample and asks it. It honours neither Options.Filter
// nor the time window; Count runs only when those are unset. One per
// goroutine.
type sampleDecoder struct {
	r     *Reader
	cache commCache
}

// newSampleDecoder returns a decoder sharing r's schema and comm index.
func (r *Reader) newSampleDecoder() *sampleDecoder { return &sampleDecoder{r: r} }

// keeps reports whether the Reader returns samples of source src (it is
// selected by Options.Probes and its event format parsed).
func (d *sampleDecoder) keeps(src uint32) bool {
	return int(src) < len(d.r.decs) && d.r.decs[src] != nil
}

// commSpan is the comm dictionary index of the task on cpu at t (the comm
// column's value; -1 when the trace does not name it, "swapper/N" for the
// idle task of CPU N), and the time range [from, til) over which the same
// tid (with its pid, and for tid 0 its cpu) keeps that answer.
func (d *sampleDecoder) commSpan(pid, tid, cpu uint32, t uint64) (idx int32, from, til uint64) {
	if tid == 0 {
		return d.r.comms.idle(cpu), 0, ^uint64(0)
	}
	l := &d.cache[tid&255]
	if !l.hit(pid, tid, t) {
		l.idx, l.from, l.til = d.r.comms.lookup(pid, tid, t)
		l.tid, l.pid, l.ok = tid, pid, true
	}
	return l.idx, l.from, l.til
}

// truncated reports whether the payload of a kept sample misses some of
// its source's fields (the Reader counts it in Warnings and nulls them).
func (d *sampleDecoder) truncated(s *format.Sample) bool {
	sd := d.r.decs[s.Source]
	if len(s.Raw) < sd.minLen {
		return true
	}
	for i := range sd.vars {
		if _, ok := fieldBytes(s.Raw, &sd.vars[i].f); !ok {
			return true
		}
	}
	return false
}

// minLen is the payload length below which a sample of kept source src is
// truncated; when fixedOnly, it is also the only test: truncated is then
// len(Raw) < n and callers may skip the call.
func (d *sampleDecoder) minLen(src uint32) (n int, fixedOnly bool) {
	sd := d.r.decs[src]
	return sd.minLen, len(sd.vars) == 0
}

// hasStrings reports whether source src of a kept sample has utf8 field columns.
func (d *sampleDecoder) hasStrings(src uint32) bool {
	for _, fd := range d.r.decs[src].vars {
		if d.r.cols[fd.col].kind == colString {
			return true
		}
	}
	return false
}

// stringFields calls fn with the schema column index and value of every
// non-null utf8 field of a kept sample, as the Reader would store them.
// v is valid only during the call.
func (d *sampleDecoder) stringFields(s *format.Sample, fn func(col int, v []byte)) {
	for i := range d.r.decs[s.Source].vars {
		fd := &d.r.decs[s.Source].vars[i]
		if d.r.cols[fd.col].kind != colString {
			continue
		}
		v, ok := fieldBytes(s.Raw, &fd.f)
		if !ok {
			continue
		}
		var ascii bool
		v, ascii = trimNULASCII(v)
		if !ascii && !utf8.Valid(v) {
			v = []byte(strings.ToValidUTF8(string(v), "\uFFFD"))
		}
		fn(numCommon+fd.col, v)
	}
}
