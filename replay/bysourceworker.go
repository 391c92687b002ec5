package replay

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay/internal/bysource"
)

// bsWorker decodes frames for the by-source pass.
type bsWorker struct {
	r     *Reader
	plans []bsPlan
	free  chan *bsFrame
	cache commCache
	// held are an unsorted frame's samples, sorted before decoding.
	held []format.Sample
}

// frame returns an empty frame, reusing one the consumer is done with.
func (w *bsWorker) frame(fi int) *bsFrame {
	var fr *bsFrame
	select {
	case fr = <-w.free:
	default:
		fr = &bsFrame{}
		fr.Sources = make([]*bysource.Rows, len(w.plans))
		fr.truncated = make([]uint64, len(w.plans))
	}
	fr.fi = fi
	fr.reset()
	return fr
}

// reset empties fr, keeping its memory (each source's rows are kept for
// the next frame, which most likely has the same sources).
func (fr *bsFrame) reset() {
	fr.n, fr.minTS, fr.maxTS, fr.err = 0, ^uint64(0), 0, nil
	fr.stacks.stacks = fr.stacks.stacks[:0]
	fr.stacks.stackIdx.reset()
	clear(fr.truncated)
	for _, rows := range fr.Sources {
		if rows == nil {
			continue
		}
		rows.N = 0
		rows.TS, rows.CPU, rows.PID, rows.TID = rows.TS[:0], rows.CPU[:0], rows.PID[:0], rows.TID[:0]
		rows.Comm.Reset()
		rows.Stack.Reset()
		rows.Period.Reset()
		for i := range rows.Fields {
			rows.Fields[i].Reset()
		}
	}
}

// decodeFrame decodes frame fi, its rows stably sorted by time as the
// Reader sorts a frame.
func (w *bsWorker) decodeFrame(fi int, buf []byte) (*bsFrame, []byte) {
	r := w.r
	fr := w.frame(fi)
	data, err := r.f.ReadFrame(fi, buf)
	r.bytesRead.Add(r.f.Frames[fi].CSize)
	if err != nil {
		fr.err = err
		return fr, buf
	}
	sorted := true
	var prev uint64
	err = format.ForEachSample(data, func(s *format.Sample) error {
		if s.Time < prev {
			sorted = false
			return errUnsortedFrame
		}
		prev = s.Time
		w.add(fr, s)
		return nil
	})
	if !sorted {
		fr.reset()
		err = w.decodeSorted(fr, data)
	}
	fr.err = err
	return fr, data
}

// errUnsortedFrame stops the first walk of a frame whose samples are out
// of time order.
var errUnsortedFrame = fmt.Errorf("unsorted frame")

// decodeSorted decodes the samples of data (up to any damage) stably
// sorted by time.
func (w *bsWorker) decodeSorted(fr *bsFrame, data []byte) error {
	held := w.held[:0]
	err := format.ForEachSample(data, func(s *format.Sample) error {
		c := *s
		if len(c.Callchain) > 0 {
			c.Callchain = append([]uint64(nil), c.Callchain...) // the walk reuses it
		}
		held = append(held, c)
		return nil
	})
	sort.SliceStable(held, func(a, b int) bool { return held[a].Time < held[b].Time })
	for i := range held {
		w.add(fr, &held[i])
	}
	clear(held) // drop the references into data
	w.held = held[:0]
	return err
}

// add decodes one sample into its source's rows, as decoder.add does into
// a chunk.
func (w *bsWorker) add(fr *bsFrame, s *format.Sample) {
	if int(s.Source) >= len(w.plans) {
		return
	}
	p := &w.plans[s.Source]
	if p.sd == nil {
		return
	}
	rows := fr.Sources[s.Source]
	if rows == nil {
		rows = &bysource.Rows{Fields: make([]bysource.Col, p.fields)}
		fr.Sources[s.Source] = rows
	}
	fr.n++
	fr.minTS, fr.maxTS = min(fr.minTS, s.Time), max(fr.maxTS, s.Time)
	rows.N++
	rows.TS = append(rows.TS, int64(s.Time))
	rows.CPU = append(rows.CPU, int32(s.CPU))
	rows.PID = append(rows.PID, int32(s.PID))
	rows.TID = append(rows.TID, int32(s.TID))
	var ci int32
	if l := &w.cache[s.TID&255]; s.TID != 0 && l.hit(s.PID, s.TID, s.Time) {
		ci = l.idx
	} else {
		ci = w.cache.lookup(w.r.comms, s.PID, s.TID, s.CPU, s.Time)
	}
	rows.Comm.I32 = append(rows.Comm.I32, max(ci, 0))
	rows.Comm.Def = append(rows.Comm.Def, int16(b2i16(ci >= 0)))
	if len(s.Callchain) > 0 {
		rows.Stack.I64 = append(rows.Stack.I64, fr.stacks.internStack(s.PID, s.Callchain))
		rows.Stack.Def = append(rows.Stack.Def, 1)
	} else {
		rows.Stack.Def = append(rows.Stack.Def, 0)
	}
	if s.HasPeriod && s.Period != noPeriod {
		rows.Period.I64 = append(rows.Period.I64, int64(s.Period))
		rows.Period.Def = append(rows.Period.Def, 1)
	} else {
		rows.Period.Def = append(rows.Period.Def, 0)
	}
	if w.fields(p, rows, s.Raw) {
		fr.truncated[s.Source]++
	}
}

func b2i16(b bool) int16 {
	if b {
		return 1
	}
	return 0
}

// fields decodes a sample's event fields into rows and reports whether
// some lay beyond the payload (they are null).
func (w *bsWorker) fields(p *bsPlan, rows *bysource.Rows, raw []byte) (trunc bool) {
	for _, f := range p.ints {
		c := &rows.Fields[f.out]
		if f.off+f.size > len(raw) {
			trunc = true
			c.Def = append(c.Def, 0)
			continue
		}
		var v int64
		b := raw[f.off:]
		switch {
		case f.size == 8:
			v = int64(binary.LittleEndian.Uint64(b))
		case f.size == 4 && f.signed:
			v = int64(int32(binary.LittleEndian.Uint32(b)))
		case f.size == 4:
			v = int64(binary.LittleEndian.Uint32(b))
		case f.size == 2 && f.signed:
			v = int64(int16(binary.LittleEndian.Uint16(b)))
		case f.size == 2:
			v = int64(binary.LittleEndian.Uint16(b))
		case f.signed:
			v = int64(int8(b[0]))
		default:
			v = int64(b[0])
		}
		c.I64 = append(c.I64, v)
		c.Def = append(c.Def, 1)
	}
	// The kernel lays fields out without overlap: a row's variable fields
	// hold at most its payload's bytes (see decoder.add).
	budget := len(raw)
	for _, f := range p.vars {
		c := &rows.Fields[f.out]
		v, ok := fieldBytes(raw, &f.fd.f)
		if ok && len(v) > budget {
			ok = false
		}
		if !ok {
			trunc = true
			c.Def = append(c.Def, 0)
			continue
		}
		budget -= len(v)
		if f.str {
			var ascii bool
			v, ascii = trimNULASCII(v)
			if !ascii && !utf8.Valid(v) {
				v = []byte(strings.ToValidUTF8(string(v), "\uFFFD"))
			}
		}
		c.Data = append(c.Data, v...)
		c.Ends = append(c.Ends, uint32(len(c.Data)))
		c.Def = append(c.Def, 1)
	}
	return trunc
}
