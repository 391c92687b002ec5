package replay

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// textCol says how text and JSON print one field of a source.
type textCol struct {
	name   string // field name as in the format file
	key    string // JSON key: the field name, or the column name when it clashes with a common key
	col    int    // record column index
	kind   colKind
	width  int
	signed bool
	hex    bool
	symbol bool
	skip   bool             // printed in the "(sym+off)" prefix instead
	enum   map[int64]string // names of an enum field's values, from the recording kernel's BTF
}

func (r *Reader) textColsFor(sd *sourceDec) []textCol {
	var out []textCol
	for _, fd := range sd.fields {
		c := r.cols[fd.col]
		tc := textCol{name: fd.f.Name, key: fd.f.Name, col: numCommon + fd.col, kind: c.kind, width: c.width,
			signed: fd.f.Signed, hex: fd.f.Hex, symbol: fd.f.Symbol}
		if commonNames[fd.f.Name] || fd.f.Name == "stack" {
			tc.key = c.name
		}
		switch fd.f.Name {
		case "__probe_ip", "__probe_func", "__probe_ret_ip":
			tc.skip = sd.isProbe
		}
		for _, ft := range sd.src.Fields {
			if ft.Name == fd.f.Name && len(ft.Enum) > 0 && c.kind == colFixed {
				tc.enum = make(map[int64]string, len(ft.Enum))
				for _, ev := range ft.Enum {
					tc.enum[ev.Value] = ev.Name
				}
			}
		}
		out = append(out, tc)
	}
	return out
}

// colView reads one column of a batch without per-value interface calls.
type colView struct {
	arr   arrow.Array
	data  []byte // fixed-width values, batch offset applied
	str   *array.String
	bin   *array.Binary
	nulls bool
	valid []byte // validity bitmap when nulls
	voff  int    // bit offset of row 0 in valid
}

func (v *colView) isNull(i int) bool {
	if !v.nulls {
		return false
	}
	j := v.voff + i
	return v.valid[j>>3]&(1<<(j&7)) == 0
}

// bytes returns the value of a string or binary column.
func (v *colView) bytes(i int) []byte {
	if v.str != nil {
		s := v.str.Value(i)
		return []byte(s)
	}
	return v.bin.Value(i)
}

func (v *colView) uint(i, width int, signed bool) uint64 {
	b := v.data[i*width:]
	switch width {
	case 8:
		return binary.LittleEndian.Uint64(b)
	case 4:
		x := binary.LittleEndian.Uint32(b)
		if signed {
			return uint64(int64(int32(x)))
		}
		return uint64(x)
	case 2:
		x := binary.LittleEndian.Uint16(b)
		if signed {
			return uint64(int64(int16(x)))
		}
		return uint64(x)
	}
	if signed {
		return uint64(int64(int8(b[0])))
	}
	return uint64(b[0])
}

func makeViews(rec arrow.Record) []colView {
	views := make([]colView, rec.NumCols())
	for i, a := range rec.Columns() {
		v := colView{arr: a, nulls: a.NullN() > 0}
		if v.nulls {
			if vb := a.Data().Buffers()[0]; vb != nil {
				v.valid, v.voff = vb.Bytes(), a.Data().Offset()
			} else {
				v.nulls = false // all null without a bitmap cannot happen with NullN > 0 in practice
			}
		}
		switch t := a.(type) {
		case *array.String:
			v.str = t
		case *array.Binary:
			v.bin = t
		case *array.Dictionary:
		default:
			d := a.Data()
			if len(d.Buffers()) > 1 && d.Buffers()[1] != nil {
				if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok {
					w := fw.BitWidth() / 8
					v.data = d.Buffers()[1].Bytes()[d.Offset()*w:]
				}
			}
		}
		views[i] = v
	}
	return views
}

// textWriter formats batches as trace_pipe-like lines or JSON lines into its
// own buffer, written out in large blocks (no per-line copy or call).
type textWriter struct {
	r    *Reader
	w    io.Writer
	json bool
	buf  []byte
	// collect keeps the whole batch in buf (parallel formatting).
	collect bool

	// Text that repeats from line to line, formatted once: the padded
	// "comm-tid [" of the last task, the "] sec." of the last second, and
	// per source ": event:" and the " name=" of each field.
	hdrs    [64]taskHeader // by tid, direct-mapped
	lineLen int            // expected bytes per line, to size buffers
	sec     uint64
	secOK   bool
	secText []byte
	srcText []*srcText
	stack   []Frame // reused for each row's stack
}

// srcText is the fixed text of one source's lines.
type srcText struct {
	head  []byte   // ": event:"
	names [][]byte // " name=" per textCol
	keys  [][]byte // `,"key":` per textCol (JSON)
	probe []byte   // `,"probe":"GROUP:EVENT"` (JSON)
}

func (tw *textWriter) srcTextOf(p int, sd *sourceDec) *srcText {
	if p < len(tw.srcText) && tw.srcText[p] != nil {
		return tw.srcText[p]
	}
	if p >= len(tw.srcText) {
		tw.srcText = append(tw.srcText, make([]*srcText, p+1-len(tw.srcText))...)
	}
	st := &srcText{head: []byte(": " + sd.short + ":")}
	st.probe = appendJSONString([]byte(`,"probe":`), sd.src.Name)
	for _, tc := range sd.textCols {
		st.names = append(st.names, []byte(" "+tc.name+"="))
		k := appendJSONString([]byte{','}, tc.key)
		st.keys = append(st.keys, append(k, ':'))
	}
	tw.srcText[p] = st
	return st
}

// taskHeader is the cached line start of one task.
type taskHeader struct {
	comm, tid int32 // comm -1: unnamed
	ok        bool
	text      []byte
}

// header appends "            comm-tid     [" for the task, cached.
func (tw *textWriter) header(b []byte, commOK bool, ci, tid int32) []byte {
	if !commOK {
		ci = -1
	}
	th := &tw.hdrs[uint32(tid)&63]
	if !th.ok || th.comm != ci || th.tid != tid {
		comm := "<...>"
		if commOK {
			comm = tw.r.comms.dict[ci]
		}
		h := th.text[:0]
		for k := len(comm); k < 16; k++ {
			h = append(h, ' ')
		}
		h = appendTextString(h, comm)
		h = append(h, '-')
		l := len(h)
		h = appendInt(h, int64(tid))
		for len(h)-l < 7 {
			h = append(h, ' ')
		}
		h = append(h, " ["...)
		th.text, th.comm, th.tid, th.ok = h, ci, tid, true
	}
	return append(b, th.text...)
}

// seconds appends "] " and the seconds of ts padded to 5 columns and ".", cached.
func (tw *textWriter) seconds(b []byte, sec uint64) []byte {
	if !tw.secOK || sec != tw.sec {
		t := append(tw.secText[:0], "] "...)
		for k := decLen(sec); k < 5; k++ {
			t = append(t, ' ')
		}
		t = appendUint(t, sec)
		t = append(t, '.')
		tw.secText, tw.sec, tw.secOK = t, sec, true
	}
	return append(b, tw.secText...)
}

const textFlushAt = 192 << 10

func (tw *textWriter) flush() error {
	if len(tw.buf) == 0 {
		return nil
	}
	_, err := tw.w.Write(tw.buf)
	tw.buf = tw.buf[:0]
	return err
}

// WriteText writes every remaining event of r to w in the style of ftrace's
// trace_pipe, one line per event, and returns the number of events written.
func WriteText(r *Reader, w io.Writer) (int64, error) {
	return writeLines(r, w, false)
}

// WriteJSON writes every remaining event of r to w as one JSON object per line
// (ts, cpu, pid, tid, comm, probe, the fields by name, and "stack" when the
// event has a callchain), returning the number of events written. Integers
// whose magnitude exceeds MaxSafeJSONInt are JSON strings of their decimal
// value, so JavaScript and jq readers keep them exact.
func WriteJSON(r *Reader, w io.Writer) (int64, error) {
	return writeLines(r, w, true)
}

func writeLines(r *Reader, w io.Writer, json bool) (int64, error) {
	if r.opts.Workers <= 1 {
		return writeLinesSerial(r, w, json)
	}
	return writeLinesParallel(r, w, json, r.opts.Workers)
}

// writeLinesSerial formats and writes the batches one after the other.
func writeLinesSerial(r *Reader, w io.Writer, json bool) (int64, error) {
	tw := &textWriter{r: r, w: w, json: json, buf: make([]byte, 0, textFlushAt+64<<10)}
	var n int64
	for r.Next() {
		rec := r.Record()
		if err := tw.batch(rec); err != nil {
			return n, err
		}
		n += rec.NumRows()
	}
	if err := r.Err(); err != nil {
		tw.flush()
		return n, err
	}
	return n, tw.flush()
}

// lineJob is one batch to format, and where its text goes.
type lineJob struct {
	rec arrow.Record
	out chan lineText
}

// lineText is the formatted text of one batch.
type lineText struct {
	text []byte
	rows int64
}

// writeLinesParallel formats batches on workers goroutines and writes them
// in order. In flight: at most 2*workers batches of text.
func writeLinesParallel(r *Reader, w io.Writer, json bool, workers int) (int64, error) {
	order := make(chan chan lineText, 2*workers)
	jobs := make(chan lineJob)
	done := make(chan struct{})
	free := make(chan []byte, 3*workers)
	go feedLines(r, order, jobs, done)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			formatLines(r, json, jobs, free)
		}()
	}
	var n int64
	var werr error
	for ch := range order {
		res := <-ch
		if werr == nil {
			if _, werr = w.Write(res.text); werr != nil {
				close(done)
			} else {
				n += res.rows
			}
		}
		select {
		case free <- res.text:
		default:
		}
	}
	wg.Wait()
	if werr != nil {
		return n, werr
	}
	return n, r.Err()
}

// feedLines queues r's batches as jobs, and their results in order, until
// the batches end or done is closed.
func feedLines(r *Reader, order chan<- chan lineText, jobs chan<- lineJob, done <-chan struct{}) {
	defer close(order)
	defer close(jobs)
	for r.Next() {
		rec := r.Record()
		rec.Retain()
		ch := make(chan lineText, 1)
		select {
		case order <- ch:
		case <-done:
			rec.Release()
			return
		}
		select {
		case jobs <- lineJob{rec, ch}:
		case <-done:
			rec.Release()
			ch <- lineText{} // already queued in order: the writer waits for it
			return
		}
	}
}

// formatLines formats the batches of jobs into buffers taken from free
// when it has one.
func formatLines(r *Reader, json bool, jobs <-chan lineJob, free <-chan []byte) {
	tw := &textWriter{r: r, json: json, collect: true, lineLen: 128}
	for j := range jobs {
		select {
		case tw.buf = <-free:
		default:
			tw.buf = nil
		}
		tw.buf = tw.buf[:0]
		// Size the buffer for the whole batch up front: growing
		// it line by line copies it over and over.
		if need := int(j.rec.NumRows()) * tw.lineLen; cap(tw.buf) < need {
			tw.buf = make([]byte, 0, need+need/8)
		}
		tw.batch(j.rec)
		if rows := int(j.rec.NumRows()); rows > 0 {
			tw.lineLen = len(tw.buf)/rows + 8
		}
		j.out <- lineText{tw.buf, j.rec.NumRows()}
		j.rec.Release()
	}
}

// batchCols are the columns of one batch as the line writers read them.
type batchCols struct {
	views    []colView
	ts       []uint64
	cpu      []uint32
	pid, tid []int32
	comm     *array.Int32 // dictionary indices into Reader.comms
	stack    *array.Int64
	period   *array.Uint64
}

func (tw *textWriter) batch(rec arrow.Record) error {
	views := makeViews(rec)
	c := batchCols{
		views:  views,
		ts:     arrow.Uint64Traits.CastFromBytes(views[0].data),
		cpu:    arrow.Uint32Traits.CastFromBytes(views[1].data),
		pid:    arrow.Int32Traits.CastFromBytes(views[2].data),
		tid:    arrow.Int32Traits.CastFromBytes(views[3].data),
		comm:   rec.Column(4).(*array.Dictionary).Indices().(*array.Int32),
		stack:  rec.Column(6).(*array.Int64),
		period: rec.Column(7).(*array.Uint64),
	}
	probeIdx := rec.Column(5).(*array.Dictionary).Indices().(*array.Int32)
	for i := 0; i < int(rec.NumRows()); i++ {
		p := int(probeIdx.Value(i))
		sd := tw.r.decs[p]
		st := tw.srcTextOf(p, sd)
		if tw.json {
			tw.buf = tw.appendJSONLine(tw.buf, &c, i, sd, st)
		} else {
			tw.buf = tw.appendTextLine(tw.buf, &c, i, sd, st)
		}
		if len(tw.buf) >= textFlushAt && !tw.collect {
			if err := tw.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendJSONLine appends row i as a JSON object and a newline.
func (tw *textWriter) appendJSONLine(b []byte, c *batchCols, i int, sd *sourceDec, st *srcText) []byte {
	b = append(b, `{"ts":`...)
	b = appendJSONUint(b, c.ts[i])
	b = append(b, `,"cpu":`...)
	b = appendUint(b, uint64(c.cpu[i]))
	b = append(b, `,"pid":`...)
	b = appendInt(b, int64(c.pid[i]))
	b = append(b, `,"tid":`...)
	b = appendInt(b, int64(c.tid[i]))
	b = append(b, `,"comm":`...)
	if c.comm.IsValid(i) {
		b = appendJSONString(b, tw.r.comms.dict[c.comm.Value(i)])
	} else {
		b = append(b, "null"...)
	}
	b = append(b, st.probe...)
	for k := range sd.textCols {
		b = append(b, st.keys[k]...)
		b = appendJSONValue(b, &sd.textCols[k], &c.views[sd.textCols[k].col], i)
	}
	if c.stack.IsValid(i) {
		b = append(b, `,"stack":[`...)
		tw.stack = tw.r.stacks.appendFrames(tw.stack[:0], c.stack.Value(i))
		for k, f := range tw.stack {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f.Name)
		}
		b = append(b, ']')
	}
	if c.period.IsValid(i) {
		b = append(b, `,"period":`...)
		b = appendJSONUint(b, c.period.Value(i))
	}
	return append(b, "}\n"...)
}

// appendJSONValue appends row i of a field column as a JSON value.
func appendJSONValue(b []byte, tc *textCol, v *colView, i int) []byte {
	switch {
	case v.isNull(i):
		return append(b, "null"...)
	case tc.kind == colFixed:
		x := v.uint(i, tc.width, tc.signed)
		if tc.signed {
			return appendJSONInt(b, int64(x))
		}
		return appendJSONUint(b, x)
	case tc.kind == colString:
		return appendJSONString(b, v.str.Value(i))
	default:
		b = append(b, '"')
		b = appendHex(b, v.bin.Value(i))
		return append(b, '"')
	}
}

// appendTextLine appends row i as a trace_pipe line:
// "            bash-1234    [001]   123.456789: event: field=value ...".
func (tw *textWriter) appendTextLine(b []byte, c *batchCols, i int, sd *sourceDec, st *srcText) []byte {
	b = tw.header(b, c.comm.IsValid(i), c.comm.Value(i), c.tid[i])
	if cpu := c.cpu[i]; cpu < 1000 {
		d := cpu / 100
		r := (cpu - d*100) * 2
		b = append(b, byte('0'+d), digits2[r], digits2[r+1])
	} else {
		b = appendUint(b, uint64(cpu))
	}
	t := c.ts[i]
	sec := t / 1e9
	b = tw.seconds(b, sec)
	b = append6(b, (t-sec*1e9)/1e3)
	b = append(b, st.head...)
	if sd.isProbe {
		b = tw.appendProbePrefix(b, sd, c.views, i)
	}
	for k := range sd.textCols {
		tc := &sd.textCols[k]
		if tc.skip {
			continue
		}
		b = append(b, st.names[k]...)
		b = tw.appendTextValue(b, sd, tc, &c.views[tc.col], i)
	}
	if c.period.IsValid(i) {
		// perf script's "period" field; only samples that count
		// more (or less) than one event have one.
		b = append(b, " period="...)
		b = appendUint(b, c.period.Value(i))
	}
	return append(b, '\n')
}

// appendTextValue appends row i of a field column as trace_pipe prints
// it: enum names, symbols, hex where the format prints hex, quoted strings
// in probes, "(fault)" for a value the probe could not read.
func (tw *textWriter) appendTextValue(b []byte, sd *sourceDec, tc *textCol, v *colView, i int) []byte {
	switch {
	case v.isNull(i):
		return append(b, "(fault)"...)
	case tc.kind == colFixed:
		x := v.uint(i, tc.width, tc.signed)
		if tc.enum != nil {
			if name, ok := tc.enum[enumValue(x, tc.width, tc.signed)]; ok {
				return append(b, name...)
			}
		}
		switch {
		case tc.symbol:
			return tw.appendSym(b, x)
		case tc.hex:
			b = append(b, "0x"...)
			return appendHex64(b, x)
		case tc.signed:
			return appendInt(b, int64(x))
		default:
			return appendUint(b, x)
		}
	case tc.kind == colString && sd.isProbe:
		b = append(b, '"')
		b = appendTextString(b, v.str.Value(i))
		return append(b, '"')
	case tc.kind == colString:
		return appendTextString(b, v.str.Value(i))
	default:
		return appendHex(b, v.bin.Value(i))
	}
}

// appendProbePrefix writes " (sym+off/size)" for entry probes or
// " (caller+off/size <- func)" for return probes, as ftrace does.
func (tw *textWriter) appendProbePrefix(b []byte, sd *sourceDec, views []colView, i int) []byte {
	get := func(col int) (uint64, bool) {
		if col < 0 || views[col].isNull(i) || views[col].data == nil {
			return 0, false
		}
		return views[col].uint(i, 8, false), true
	}
	if ip, ok := get(sd.special[0]); ok {
		b = append(b, " ("...)
		b = tw.appendSym(b, ip)
		return append(b, ')')
	}
	fn, ok1 := get(sd.special[1])
	ret, ok2 := get(sd.special[2])
	if ok1 && ok2 {
		// As ftrace prints return probes: the caller with its offset, then
		// the probed function's name.
		b = append(b, " ("...)
		b = tw.appendSym(b, ret)
		b = append(b, " <- "...)
		if s, ok := tw.r.ksyms.lookup(fn); ok && s.Addr == fn {
			b = append(b, s.Name...)
		} else {
			b = tw.appendSym(b, fn)
		}
		return append(b, ')')
	}
	return b
}

// appendSym writes addr as sym+0xoff/0xsize, or 0xaddr when unknown.
func (tw *textWriter) appendSym(b []byte, addr uint64) []byte {
	s, ok := tw.r.ksyms.lookup(addr)
	if !ok {
		b = append(b, "0x"...)
		return appendHex64(b, addr)
	}
	b = append(b, s.Name...)
	b = append(b, "+0x"...)
	b = appendHex64(b, addr-s.Addr)
	if s.Size != 0 {
		b = append(b, "/0x"...)
		b = appendHex64(b, s.Size)
	}
	if s.Module != "" {
		b = append(b, " ["...)
		b = append(b, s.Module...)
		b = append(b, ']')
	}
	return b
}

func appendPad(b []byte, v uint64, width int) []byte {
	for k := decLen(v); k < width; k++ {
		b = append(b, '0')
	}
	return appendUint(b, v)
}

// append6 appends v < 1e6 as exactly six digits (the microseconds).
func append6(b []byte, v uint64) []byte {
	h, m, l := v/10000%100*2, v/100%100*2, v%100*2
	return append(b, digits2[h], digits2[h+1], digits2[m], digits2[m+1], digits2[l], digits2[l+1])
}

// decLen is the number of decimal digits of v.
func decLen(v uint64) int {
	if v < 10 {
		return 1
	}
	// 1233/4096 ~ log10(2): t is floor(log10(v)) or one more.
	t := (bits.Len64(v) * 1233) >> 12
	if v < pow10[t] {
		return t
	}
	return t + 1
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendUint appends v in decimal, writing the digits in place (strconv's
// Append functions format into a temporary and copy).
func appendUint(b []byte, v uint64) []byte {
	// Small values (syscall numbers, return values, CPUs) are the common case.
	if v < 10 {
		return append(b, byte('0'+v))
	}
	if v < 100 {
		return append(b, digits2[v*2], digits2[v*2+1])
	}
	if v < 1000 {
		q := v / 100
		r := (v - q*100) * 2
		return append(b, byte('0'+q), digits2[r], digits2[r+1])
	}
	n := decLen(v)
	l := len(b)
	b = slices.Grow(b, n)[:l+n]
	i := l + n
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = digits2[r], digits2[r+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		b[i], b[i+1] = digits2[v*2], digits2[v*2+1]
	} else {
		i--
		b[i] = byte('0' + v)
	}
	return b
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		return appendUint(b, uint64(-v))
	}
	return appendUint(b, uint64(v))
}

// appendHex64 appends v in lower-case hex without a prefix.
func appendHex64(b []byte, v uint64) []byte {
	if v < 16 {
		return append(b, hexDigits[v])
	}
	// Two digits a step, written in place (a short append of a temporary
	// costs a memmove call).
	n := (bits.Len64(v) + 3) >> 2
	l := len(b)
	b = slices.Grow(b, n)[:l+n]
	d := b[l : l+n]
	i := n
	for v >= 256 {
		x := (v & 255) * 2
		i -= 2
		d[i], d[i+1] = hexPairs[x], hexPairs[x+1]
		v >>= 8
	}
	x := v * 2
	if i == 2 {
		d[0], d[1] = hexPairs[x], hexPairs[x+1]
	} else {
		d[0] = hexPairs[x+1]
	}
	return b
}

const hexDigits = "0123456789abcdef"

// hexPairs holds the two hex digits of every byte value.
const hexPairs = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" +
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" +
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf" +
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

func appendHex(b, v []byte) []byte {
	for _, c := range v {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

// appendTextString appends s for the text format, escaping control bytes
// (\n, \t, \r, else \xNN): strings come from traced programs and hostile files,
// and a raw newline would forge an event line, an escape sequence drive the terminal.
func appendTextString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != 0x7f {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// EscapeControl returns s with its control bytes escaped as the text format
// prints them (\n, \t, \r, else \xNN), for printing names from a trace file.
func EscapeControl(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return string(appendTextString(make([]byte, 0, len(s)+8), s))
		}
	}
	return s
}

// EscapeControlLines is EscapeControl for multi-line text: newlines stay.
// It returns b itself when there is nothing to escape.
func EscapeControlLines(b []byte) []byte {
	for _, c := range b {
		if (c < 0x20 && c != '\n') || c == 0x7f {
			out := make([]byte, 0, len(b)+8)
			for len(b) > 0 {
				line, rest, found := bytes.Cut(b, []byte{'\n'})
				out = appendTextString(out, string(line))
				if found {
					out = append(out, '\n')
				}
				b = rest
			}
			return out
		}
	}
	return b
}

// MaxSafeJSONInt is the largest magnitude WriteJSON writes as a bare JSON
// number (2^53-1, Number.MAX_SAFE_INTEGER): a larger integer (a pointer, a
// sign-extended -100 read as u64, a 64-bit fetcharg) is written as a JSON
// string of its exact decimal value, as protobuf's JSON mapping does for
// 64-bit integers, since JavaScript and jq would round it as a number.
const MaxSafeJSONInt = 1<<53 - 1

// appendJSONUint appends x as a JSON number, or a string above MaxSafeJSONInt.
func appendJSONUint(b []byte, x uint64) []byte {
	if x <= MaxSafeJSONInt {
		return appendUint(b, x)
	}
	b = append(b, '"')
	b = appendUint(b, x)
	return append(b, '"')
}

// appendJSONInt appends x as a JSON number, or a string when its magnitude
// exceeds MaxSafeJSONInt.
func appendJSONInt(b []byte, x int64) []byte {
	if x >= -MaxSafeJSONInt && x <= MaxSafeJSONInt {
		return appendInt(b, x)
	}
	b = append(b, '"')
	b = appendInt(b, x)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// enumValue reads a field value as an enum constant: sign-extended when the
// field is signed, so that -1 in an s32 field matches an enum's -1.
func enumValue(x uint64, width int, signed bool) int64 {
	if signed || width >= 8 {
		return int64(x)
	}
	return int64(x & (1<<(8*uint(width)) - 1))
}
