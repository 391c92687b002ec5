package replay

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/kpcap/kpcap/format"
)

// decoder holds per-worker state for decoding samples into a chunk.
type decoder struct {
	r   *Reader
	c   *chunk
	row filterRow
	// intCols[source] are the chunk's buffers of sd.ints, resolved once
	// and grouped by width; varCols[source][i] that of sd.vars[i], resolved
	// on first use (a column no row writes is not allocated).
	intCols []*intCols
	varCols [][]*colBuf
	// comm lookups cached per tid (direct-mapped): rows of a frame come
	// from few threads, interleaved across CPUs. Last: it holds no
	// pointers, which the garbage collector then need not scan.
	cache commCache
}

// intCols are a source's fixed integer fields by width, each with its
// column buffer: the hot loop copies them without a switch per field.
type intCols struct {
	w8, w4, w2, w1 []intSlot
}

type intSlot struct {
	off int
	b   *colBuf
}

func newDecoder(r *Reader, c *chunk) *decoder {
	return &decoder{r: r, c: c, intCols: make([]*intCols, len(r.decs)), varCols: make([][]*colBuf, len(r.decs))}
}

// reset points d at a new chunk: the column buffers it resolved were the
// last chunk's; the comm cache holds on.
func (d *decoder) reset(c *chunk) {
	d.c = c
	clear(d.intCols)
	clear(d.varCols)
}

// intColsOf returns the column buffers of a source's integer fields.
func (d *decoder) intColsOf(sd *sourceDec) *intCols {
	ic := d.intCols[sd.idx]
	if ic == nil {
		ic = &intCols{}
		for _, f := range sd.ints {
			sl := intSlot{off: f.off, b: d.c.col(f.col, d.r.cols)}
			switch f.size {
			case 8:
				ic.w8 = append(ic.w8, sl)
			case 4:
				ic.w4 = append(ic.w4, sl)
			case 2:
				ic.w2 = append(ic.w2, sl)
			default:
				ic.w1 = append(ic.w1, sl)
			}
		}
		d.intCols[sd.idx] = ic
	}
	return ic
}

// varCol is col for variable-width column i, sized after the frames
// decoded before. Value buffers cannot be pooled (Arrow strings alias
// them), so each is allocated, and zeroed, anew: sizing them for every row
// of the frame at the column's size hint cost more than decoding when few
// rows (one source among several) use the column.
func (d *decoder) varCol(i int) *colBuf {
	c := d.c
	b := c.cols[i]
	if b == nil {
		dataCap := c.cap * d.r.cols[i].sizeHint
		if per := d.r.varPerRow[i].Load(); per > 0 {
			// 1/8 more than the last frame used, plus some slack; append
			// grows it if this frame needs more.
			dataCap = int(min(uint64(c.cap)*per>>10*9/8+1024, uint64(dataCap)*4))
		}
		b = newColBuf(0, c.cap, dataCap)
		c.cols[i] = b
		c.used++
	}
	return b
}

// add decodes one sample into the chunk, after time, probe and filter selection.
func (d *decoder) add(s *format.Sample) {
	if sd := d.selected(s); sd != nil {
		d.addSelected(s, sd)
	}
}

// addSelected decodes one sample of source sd that selected passed.
func (d *decoder) addSelected(s *format.Sample, sd *sourceDec) {
	c := d.c
	if c.n == c.cap {
		c.grow()
	}
	n := c.n
	c.ts[n] = s.Time
	// Only sortedness is tracked per row; finishRange computes the range.
	if s.Time < c.maxTS {
		c.sorted = false
	} else {
		c.maxTS = s.Time
	}
	c.cpu[n] = s.CPU
	c.pid[n] = int32(s.PID)
	c.tid[n] = int32(s.TID)
	var ci int32
	if l := &d.cache[s.TID&255]; s.TID != 0 && l.hit(s.PID, s.TID, s.Time) {
		ci = l.idx // inlined cache hit
	} else {
		ci = d.commIndex(s.PID, s.TID, s.CPU, s.Time)
	}
	if ci < 0 {
		c.unknownComm = true
	}
	c.comm[n] = ci
	c.probe[n] = int32(s.Source)
	if len(s.Callchain) > 0 {
		c.stack[n] = c.internStack(s.PID, s.Callchain)
	} else {
		c.stack[n] = -1
	}
	if s.HasPeriod && s.Period != noPeriod {
		c.period[n] = s.Period
	} else {
		c.period[n] = noPeriod
	}
	trunc := false
	if len(s.Raw) >= sd.minLen {
		d.addInts(sd, s.Raw, n)
	} else {
		trunc = d.addIntsShort(sd, s.Raw, n)
	}
	if len(sd.vars) > 0 && d.addVars(sd, s.Raw, n) {
		trunc = true
	}
	if trunc {
		c.truncated[s.Source]++
	}
	c.n++
}

// selected returns the decoder of the sample's source when the sample
// passes the time window, the probe selection and the filter, else nil.
func (d *decoder) selected(s *format.Sample) *sourceDec {
	r := d.r
	if int(s.Source) >= len(r.decs) {
		return nil
	}
	sd := r.decs[s.Source]
	if sd == nil || s.Time < r.opts.Since || (r.opts.Until != 0 && s.Time >= r.opts.Until) {
		return nil
	}
	if sd.pred != nil {
		if sd.predFalse {
			return nil
		}
		d.row.s, d.row.sd, d.row.d = s, sd, d
		if !sd.pred(&d.row) {
			return nil
		}
	}
	return sd
}

// addInts copies row n's fixed integer fields, every one inside raw.
func (d *decoder) addInts(sd *sourceDec, raw []byte, n int) {
	ic := d.intCols[sd.idx]
	if ic == nil {
		ic = d.intColsOf(sd)
	}
	bit := byte(1) << (n & 7)
	for _, f := range ic.w8 {
		binary.LittleEndian.PutUint64(f.b.data[n*8:], binary.LittleEndian.Uint64(raw[f.off:]))
		f.b.valid[n>>3] |= bit
	}
	for _, f := range ic.w4 {
		binary.LittleEndian.PutUint32(f.b.data[n*4:], binary.LittleEndian.Uint32(raw[f.off:]))
		f.b.valid[n>>3] |= bit
	}
	for _, f := range ic.w2 {
		binary.LittleEndian.PutUint16(f.b.data[n*2:], binary.LittleEndian.Uint16(raw[f.off:]))
		f.b.valid[n>>3] |= bit
	}
	for _, f := range ic.w1 {
		f.b.data[n] = raw[f.off]
		f.b.valid[n>>3] |= bit
	}
}

// addIntsShort copies the fixed integer fields inside a payload too short
// for all of them and reports that some were cut off.
func (d *decoder) addIntsShort(sd *sourceDec, raw []byte, n int) (trunc bool) {
	for _, f := range sd.ints {
		if f.off+f.size > len(raw) {
			trunc = true
			continue
		}
		b := d.c.col(f.col, d.r.cols)
		copy(b.data[n*f.size:], raw[f.off:f.off+f.size])
		b.setValid(n)
	}
	return trunc
}

// addVars copies row n's strings and arrays and reports whether any was
// cut off or out of the payload.
func (d *decoder) addVars(sd *sourceDec, raw []byte, n int) (trunc bool) {
	vc := d.varCols[sd.idx]
	if vc == nil {
		vc = make([]*colBuf, len(sd.vars))
		d.varCols[sd.idx] = vc
	}
	// The kernel lays fields out without overlap, so a row's variable
	// fields hold at most its payload's bytes; fields pointing at the
	// same bytes over and over (a hostile file) are cut there, as
	// truncated, or one row could expand a 64 KiB payload to gigabytes.
	budget := len(raw)
	for i := range sd.vars {
		fd := &sd.vars[i]
		v, ok := fieldBytes(raw, &fd.f)
		if ok && len(v) > budget {
			ok = false
		}
		if !ok {
			trunc = true
			continue
		}
		budget -= len(v)
		b := vc[i]
		if b == nil {
			b = d.varCol(fd.col)
			vc[i] = b
		}
		if d.r.cols[fd.col].kind == colString {
			var ascii bool
			v, ascii = trimNULASCII(v)
			if !ascii && !utf8.Valid(v) {
				v = []byte(strings.ToValidUTF8(string(v), "\uFFFD"))
			}
		}
		b.appendVar(n, v)
	}
	return trunc
}

// commIndex returns the comm dictionary index of tid (or pid) on cpu at t,
// -1 if unknown.
func (d *decoder) commIndex(pid, tid, cpu uint32, t uint64) int32 {
	return d.cache.lookup(d.r.comms, pid, tid, cpu, t)
}
