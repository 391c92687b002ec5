package replay

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay/internal/eventfmt"
)

// colBuf accumulates one field column of a chunk in Arrow's memory layout, so
// that finishing a chunk wraps the buffers without copying. Rows never written
// stay null: buffers start zeroed and only written rows set their valid bit.
type colBuf struct {
	width   int     // bytes per value for fixed columns; 0 for variable
	data    []byte  // fixed: cap*width bytes; variable: concatenated values
	valid   []byte  // validity bitmap
	offsets []int32 // variable: cap+1 entries, valid up to offsets[filled]
	filled  int
}

func (c *colBuf) setValid(r int) { c.valid[r>>3] |= 1 << (r & 7) }

// appendVar writes value v at row r (> every row written before) of a
// variable-width column; rows skipped in between become empty nulls.
func (c *colBuf) appendVar(r int, v []byte) {
	end := int32(len(c.data))
	for j := c.filled + 1; j <= r; j++ {
		c.offsets[j] = end
	}
	c.data = append(c.data, v...)
	c.offsets[r+1] = int32(len(c.data))
	c.filled = r + 1
	c.valid[r>>3] |= 1 << (r & 7)
}

// finishVar completes the offsets of a variable-width column of n rows.
func (c *colBuf) finishVar(n int) {
	end := int32(len(c.data))
	for j := c.filled + 1; j <= n; j++ {
		c.offsets[j] = end
	}
	c.filled = n
}

// chunk is the decoded rows of one frame (or a merge of frames), columnar.
type chunk struct {
	seq   int // frame order
	n     int
	cap   int
	ts    []uint64
	cpu   []uint32
	pid   []int32
	tid   []int32
	comm  []int32 // index into the comm dictionary, -1 = unknown
	probe []int32
	stack []int64 // chunk-local stack index, -1 = none; global id after assignStacks
	// period is the sample's period, noPeriod when it carries none
	period []uint64
	cols   []*colBuf
	raw    [numRaw][]byte // pooled backing of the common columns

	stacks   []stackKey
	stackIdx hashIndex

	minTS, maxTS uint64
	sorted       bool
	hasStacks    bool
	unknownComm  bool

	truncated []uint64 // per source: samples with fields beyond the payload
	err       error
}

type stackKey struct {
	pid uint32
	ips []uint64
}

func newChunk(ncols, nsrc, capacity int) *chunk {
	if capacity < 16 {
		capacity = 16
	}
	c := &chunk{cap: capacity, sorted: true, minTS: ^uint64(0)}
	c.alloc(capacity)
	c.cols = make([]*colBuf, ncols)
	c.truncated = make([]uint64, nsrc)
	return c
}

// Common column indexes into chunk.raw.
const (
	rawTS = iota
	rawCPU
	rawPID
	rawTID
	rawComm
	rawProbe
	rawStack
	rawPeriod
	numRaw
)

var rawWidth = [numRaw]int{8, 4, 4, 4, 4, 4, 8, 8}

// noPeriod marks a row whose sample carries no period (it counts one event).
const noPeriod = ^uint64(0)

// alloc (re)allocates the common columns for capacity rows from the pool,
// keeping the rows already decoded.
func (c *chunk) alloc(capacity int) {
	for i := range c.raw {
		nb := pool.get(capacity * rawWidth[i])
		if c.raw[i] != nil {
			copy(nb, c.raw[i][:c.n*rawWidth[i]])
			pool.put(c.raw[i])
		}
		c.raw[i] = nb
	}
	c.ts = u64s(c.raw[rawTS])
	c.cpu = u32s(c.raw[rawCPU])
	c.pid = i32s(c.raw[rawPID])
	c.tid = i32s(c.raw[rawTID])
	c.comm = i32s(c.raw[rawComm])
	c.probe = i32s(c.raw[rawProbe])
	c.stack = i64s(c.raw[rawStack])
	c.period = u64s(c.raw[rawPeriod])
	c.cap = capacity
}

// release returns a chunk's pooled memory when it is not turned into a record.
func (c *chunk) release() {
	for i, b := range c.raw {
		pool.put(b)
		c.raw[i] = nil
	}
	for _, b := range c.cols {
		if b != nil {
			pool.put(b.valid)
			if b.width > 0 {
				pool.put(b.data)
			} else {
				pool.put(int32Bytes(b.offsets))
			}
		}
	}
}

func int32Bytes(v []int32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), cap(v)*4)
}

// newColBuf allocates a column buffer of capacity rows: validity zeroed (all
// null), values undefined until written; a variable-width column's values
// start with room for dataCap bytes.
func newColBuf(width, capacity, dataCap int) *colBuf {
	b := &colBuf{width: width, valid: pool.getZero((capacity + 7) / 8)}
	if width > 0 {
		b.data = pool.get(capacity * width)
	} else {
		b.offsets = i32s(pool.get((capacity + 1) * 4))
		b.offsets[0] = 0
		b.data = make([]byte, 0, dataCap)
	}
	return b
}

// col returns column i, allocating it on first use.
func (c *chunk) col(i int, cols []column) *colBuf {
	b := c.cols[i]
	if b == nil {
		b = newColBuf(cols[i].width, c.cap, c.cap*cols[i].sizeHint)
		c.cols[i] = b
	}
	return b
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
	}
	return b
}

// noteVarUse records the bytes per row the variable-width columns of a
// decoded chunk used, for varCol to size the next ones.
func (r *Reader) noteVarUse(c *chunk) {
	if c.n == 0 {
		return
	}
	for i, b := range c.cols {
		if b != nil && b.width == 0 {
			r.varPerRow[i].Store(max(uint64(len(b.data))<<10/uint64(c.n), 1))
		}
	}
}

// grow doubles the capacity.
func (c *chunk) grow() {
	n := c.cap * 2
	for _, b := range c.cols {
		if b == nil {
			continue
		}
		nb := newColBuf(b.width, n, 0)
		copy(nb.valid, b.valid)
		pool.put(b.valid)
		b.valid = nb.valid
		if b.width > 0 {
			copy(nb.data, b.data[:c.n*b.width])
			pool.put(b.data)
			b.data = nb.data
		} else {
			copy(nb.offsets, b.offsets[:b.filled+1])
			pool.put(int32Bytes(b.offsets))
			b.offsets = nb.offsets
		}
	}
	c.alloc(n)
}

// internStack returns the chunk-local index of a callchain.
func (c *chunk) internStack(pid uint32, ips []uint64) int64 {
	if !hasUser(ips) {
		pid = 0
	}
	h := stackHash(pid, ips)
	if i, ok := c.stackIdx.find(h, func(i int64) bool {
		k := c.stacks[i]
		return k.pid == pid && slices.Equal(k.ips, ips)
	}); ok {
		return i
	}
	i := int64(len(c.stacks))
	c.stackIdx.add(h, i)
	c.stacks = append(c.stacks, stackKey{pid: pid, ips: append([]uint64(nil), ips...)})
	c.hasStacks = true
	return i
}

// Perf callchain context markers.
const (
	contextMax         = ^uint64(0) - 4095 + 1 // values >= this are markers
	contextHV          = ^uint64(32) + 1
	contextKernel      = ^uint64(128) + 1
	contextUser        = ^uint64(512) + 1
	contextGuestKernel = ^uint64(2176) + 1
	contextGuestUser   = ^uint64(2560) + 1
)

func hasUser(ips []uint64) bool {
	for _, ip := range ips {
		if ip == contextUser || ip == contextGuestUser {
			return true
		}
		if ip < contextMax && ip < 1<<63 {
			return true // a user address with no marker
		}
	}
	return false
}

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

type commCacheEntry struct {
	tid       uint32
	idx       int32
	from, til uint64
	pid       uint32
	ok        bool
}

// commCache remembers, per tid modulo 256, the comm index last found and the
// time range it holds for: consecutive samples of a thread mostly hit it.
// An entry answers for its (pid, tid) pair only: a tid the trace does not
// name takes its process's name, and one tid (-1 in sched_switch rows of
// exiting tasks, or a tid reused across pid namespaces) can come with
// several pids.
type commCache [256]commCacheEntry

// hit reports whether l holds the answer for tid of pid at t.
func (l *commCacheEntry) hit(pid, tid uint32, t uint64) bool {
	return l.ok && l.tid == tid && l.pid == pid && t >= l.from && t < l.til
}

// lookup returns the comm dictionary index of tid (or pid) on cpu at t, -1
// if unknown.
func (c *commCache) lookup(comms *commIndex, pid, tid, cpu uint32, t uint64) int32 {
	if tid == 0 {
		return comms.idle(cpu)
	}
	l := &c[tid&255]
	if l.hit(pid, tid, t) {
		return l.idx
	}
	idx, from, til := comms.lookup(pid, tid, t)
	l.tid, l.pid, l.from, l.til, l.idx, l.ok = tid, pid, from, til, idx, true
	return idx
}

// add decodes one sample into the chunk, after time, probe and filter selection.
func (d *decoder) add(s *format.Sample) {
	sd := d.selected(s)
	if sd == nil {
		return
	}
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

// finishRange sets minTS and maxTS once decoding is done.
func (c *chunk) finishRange() {
	if c.n == 0 {
		return
	}
	if c.sorted {
		c.minTS, c.maxTS = c.ts[0], c.ts[c.n-1]
		return
	}
	c.minTS, c.maxTS = c.ts[0], c.ts[0]
	for _, t := range c.ts[:c.n] {
		c.minTS, c.maxTS = min(c.minTS, t), max(c.maxTS, t)
	}
}

// fieldBytes returns the bytes of a non-integer field, bounds-checked.
func fieldBytes(raw []byte, f *eventfmt.Field) ([]byte, bool) {
	switch f.Kind {
	case eventfmt.KindDataLoc, eventfmt.KindRelLoc:
		if f.Offset+4 > len(raw) {
			return nil, false
		}
		v := binary.LittleEndian.Uint32(raw[f.Offset:])
		off, n := int(v&0xffff), int(v>>16)
		if f.Kind == eventfmt.KindRelLoc {
			off += f.Offset + 4
		}
		if off+n > len(raw) {
			return nil, false
		}
		return raw[off : off+n], true
	default:
		if f.Offset+f.Size > len(raw) {
			return nil, false
		}
		return raw[f.Offset : f.Offset+f.Size], true
	}
}

// trimNULASCII is trimNUL that also tells whether the result is ASCII
// (and so valid UTF-8): most values are, and utf8.Valid walks short
// strings byte by byte.
func trimNULASCII(b []byte) ([]byte, bool) {
	var or byte
	for i, c := range b {
		if c == 0 {
			return b[:i], or < utf8.RuneSelf
		}
		or |= c
	}
	return b, or < utf8.RuneSelf
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// intValue reads an integer field, sign-extended when signed.
func intValue(raw []byte, f *eventfmt.Field) (uint64, bool) {
	if f.Offset+f.Size > len(raw) {
		return 0, false
	}
	b := raw[f.Offset:]
	switch f.Size {
	case 1:
		if f.Signed {
			return uint64(int64(int8(b[0]))), true
		}
		return uint64(b[0]), true
	case 2:
		v := binary.LittleEndian.Uint16(b)
		if f.Signed {
			return uint64(int64(int16(v))), true
		}
		return uint64(v), true
	case 4:
		v := binary.LittleEndian.Uint32(b)
		if f.Signed {
			return uint64(int64(int32(v))), true
		}
		return uint64(v), true
	case 8:
		return binary.LittleEndian.Uint64(b), true
	}
	return 0, false
}

// commIndex returns the comm dictionary index of tid (or pid) on cpu at t,
// -1 if unknown.
func (d *decoder) commIndex(pid, tid, cpu uint32, t uint64) int32 {
	return d.cache.lookup(d.r.comms, pid, tid, cpu, t)
}

// filterRow lets a compiled filter read the current sample.
type filterRow struct {
	s  *format.Sample
	sd *sourceDec
	d  *decoder
}

func (fr *filterRow) Int(id int) (int64, bool) {
	switch id {
	case idCPU:
		return int64(fr.s.CPU), true
	case idPID:
		return int64(int32(fr.s.TID)), true
	}
	v, ok := intValue(fr.s.Raw, &fr.sd.ev.Fields[id])
	return int64(v), ok
}

func (fr *filterRow) Uint(id int) (uint64, bool) {
	switch id {
	case idCPU:
		return uint64(fr.s.CPU), true
	case idPID:
		return uint64(fr.s.TID), true
	}
	return intValue(fr.s.Raw, &fr.sd.ev.Fields[id])
}

func (fr *filterRow) Str(id int) ([]byte, bool) {
	if id == idComm {
		i := fr.d.commIndex(fr.s.PID, fr.s.TID, fr.s.CPU, fr.s.Time)
		if i < 0 {
			return nil, false
		}
		return []byte(fr.d.r.comms.dict[i]), true
	}
	v, ok := fieldBytes(fr.s.Raw, &fr.sd.ev.Fields[id])
	return trimNUL(v), ok
}

// popcount counts set bits of the first n bits of a bitmap.
func popcount(bm []byte, n int) int {
	c := 0
	full := n / 8
	for _, b := range bm[:full] {
		c += bits.OnesCount8(b)
	}
	if rem := n % 8; rem != 0 {
		c += bits.OnesCount8(bm[full] & (1<<rem - 1))
	}
	return c
}
