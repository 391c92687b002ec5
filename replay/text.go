package replay

import (
	"encoding/binary"
	"io"

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

// enumValue reads a field value as an enum constant: sign-extended when the
// field is signed, so that -1 in an s32 field matches an enum's -1.
func enumValue(x uint64, width int, signed bool) int64 {
	if signed || width >= 8 {
		return int64(x)
	}
	return int64(x & (1<<(8*uint(width)) - 1))
}
