package replay

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay/filter"
	"github.com/kpcap/kpcap/replay/internal/eventfmt"
)

// colKind says how a field column is accumulated.
type colKind uint8

const (
	colFixed  colKind = iota + 1 // little-endian integer of width bytes
	colString                    // utf8
	colBinary                    // binary
)

// column is one event-field column of the output schema.
type column struct {
	name     string
	typ      arrow.DataType
	kind     colKind
	width    int
	sizeHint int // expected bytes per value of variable columns
}

// fieldDec decodes one field of one source into column col.
type fieldDec struct {
	f   eventfmt.Field
	col int // index into Reader.cols
}

// sourceDec is everything needed to decode one selected source's samples.
type sourceDec struct {
	idx    int
	src    *format.Source
	ev     *eventfmt.Event
	fields []fieldDec // non-common fields, in format order
	// ints are the fixed integer fields, split out for the hot loop.
	ints      []intDec
	vars      []fieldDec // the other fields (strings, arrays)
	minLen    int        // payload bytes needed by every fixed field
	pred      filter.Predicate
	predFalse bool   // the filter names a field this source lacks
	short     string // event name for text output ("sys_enter_openat")
	isProbe   bool   // kprobe/uprobe: print (sym+off) prefix, quote strings
	special   [3]int // record column indexes of __probe_ip, __probe_func, __probe_ret_ip (u64); -1 if absent
	textCols  []textCol
}

type intDec struct {
	off, size, col int
}

// SourceInfo describes one source of the file as the Reader decodes it.
type SourceInfo struct {
	Index    int    // index in the file's Header.Sources, and the probe column's dictionary index
	Name     string // "GROUP:EVENT"
	Kind     format.SourceKind
	Selected bool // passes Options.Probes
	// Fields maps each decoded field name to its column index in the schema
	// (common columns included in the count); nil when not selected.
	Fields map[string]int
	// Err is why the source's format could not be parsed; such a source is skipped.
	Err error
}

// typeFor returns the Arrow type and accumulation of a field.
func typeFor(f *eventfmt.Field) (arrow.DataType, colKind, int) {
	switch f.Kind {
	case eventfmt.KindInt:
		switch {
		case f.Size == 1 && f.Signed:
			return arrow.PrimitiveTypes.Int8, colFixed, 1
		case f.Size == 1:
			return arrow.PrimitiveTypes.Uint8, colFixed, 1
		case f.Size == 2 && f.Signed:
			return arrow.PrimitiveTypes.Int16, colFixed, 2
		case f.Size == 2:
			return arrow.PrimitiveTypes.Uint16, colFixed, 2
		case f.Size == 4 && f.Signed:
			return arrow.PrimitiveTypes.Int32, colFixed, 4
		case f.Size == 4:
			return arrow.PrimitiveTypes.Uint32, colFixed, 4
		case f.Signed:
			return arrow.PrimitiveTypes.Int64, colFixed, 8
		default:
			return arrow.PrimitiveTypes.Uint64, colFixed, 8
		}
	case eventfmt.KindString:
		return arrow.BinaryTypes.String, colString, 0
	case eventfmt.KindDataLoc, eventfmt.KindRelLoc:
		if f.Text {
			return arrow.BinaryTypes.String, colString, 0
		}
	}
	return arrow.BinaryTypes.Binary, colBinary, 0
}

var commonNames = map[string]bool{ColTS: true, ColCPU: true, ColPID: true, ColTID: true, ColComm: true, ColProbe: true, ColStackID: true, ColPeriod: true}

// matchProbe reports whether name passes the --probe patterns.
func matchProbe(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == name {
			return true
		}
		if ok, err := path.Match(p, name); err == nil && ok {
			return true
		}
		// "sys_enter_openat" matches "syscalls:sys_enter_openat".
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			if ok, err := path.Match(p, name[i+1:]); err == nil && ok {
				return true
			}
		}
	}
	return false
}

// fieldUse is one source's field of a name, before columns are laid out.
type fieldUse struct {
	sd *sourceDec
	fi int
	t  arrow.DataType
}

// fieldUses are the selected sources' fields by name, names in first-use
// order.
type fieldUses struct {
	byName map[string][]fieldUse
	order  []string
}

// buildSchema parses every selected source's format and lays out the columns.
func (r *Reader) buildSchema() error {
	var expr *filter.Expr
	if r.opts.Filter != "" {
		e, err := filter.Parse(r.opts.Filter)
		if err != nil {
			return err
		}
		expr = e
	}
	uses, err := r.selectSources()
	if err != nil {
		return err
	}
	r.layoutColumns(uses)
	r.schema = r.arrowSchema()
	return r.finishDecoders(expr)
}

// selectSources makes a decoder for each source passing Options.Probes
// whose format parses, while the columns stay within MaxColumns, and
// returns their fields.
func (r *Reader) selectSources() (fieldUses, error) {
	srcs := r.f.Header.Sources
	r.decs = make([]*sourceDec, len(srcs))
	r.infos = make([]SourceInfo, len(srcs))
	fu := fieldUses{byName: map[string][]fieldUse{}}
	anySelected := false
	uses, overCols := 0, 0 // field uses of the sources kept; sources skipped for them
	for i := range srcs {
		s := &srcs[i]
		info := SourceInfo{Index: i, Name: s.Name, Kind: s.Kind, Selected: matchProbe(r.opts.Probes, s.Name)}
		if info.Selected {
			anySelected = true
			ev, err := eventfmt.Parse(s.Format)
			if err != nil {
				info.Err = fmt.Errorf("source %s: %w", s.Name, err)
				r.warnf("source %s: cannot parse its event format, skipping its samples: %v", s.Name, err)
				info.Selected = false
			} else if nf := ownFields(ev); uses+nf > MaxColumns {
				info.Err = fmt.Errorf("source %s: its %d fields would make more than %d columns", s.Name, nf, MaxColumns)
				info.Selected = false
				overCols++
			} else {
				uses += nf
				r.decs[i] = fu.add(i, s, ev)
			}
		}
		r.infos[i] = info
	}
	if overCols > 0 {
		r.warnf("%d sources skipped with their samples: their fields would make more than %d columns", overCols, MaxColumns)
	}
	if len(r.opts.Probes) > 0 && !anySelected {
		names := make([]string, len(srcs))
		for i := range srcs {
			names[i] = srcs[i].Name
		}
		return fu, &SelectError{Probes: r.opts.Probes, Sources: names}
	}
	return fu, nil
}

// add makes source i's decoder and notes the uses of its own fields.
func (fu *fieldUses) add(i int, s *format.Source, ev *eventfmt.Event) *sourceDec {
	sd := &sourceDec{idx: i, src: s, ev: ev, special: [3]int{-1, -1, -1}}
	sd.short = s.Name
	if j := strings.LastIndexByte(sd.short, ':'); j >= 0 {
		sd.short = sd.short[j+1:]
	}
	sd.isProbe = s.Kind != format.KindTracepoint
	for fi := range ev.Fields {
		f := &ev.Fields[fi]
		if f.Common {
			continue
		}
		t, _, _ := typeFor(f)
		if _, seen := fu.byName[f.Name]; !seen {
			fu.order = append(fu.order, f.Name)
		}
		fu.byName[f.Name] = append(fu.byName[f.Name], fieldUse{sd, fi, t})
	}
	return sd
}

// layoutColumns lays out the field columns: a name shared with one type is
// one column; a name used with different types, or clashing with a common
// column, is per source.
func (r *Reader) layoutColumns(fu fieldUses) {
	l := colLayout{r: r, idx: map[string]int{}, nextAlt: map[string]int{}}
	for _, name := range fu.order {
		uses := fu.byName[name]
		same := !commonNames[name]
		for _, u := range uses[1:] {
			if !arrow.TypeEqual(u.t, uses[0].t) {
				same = false
			}
		}
		for _, u := range uses {
			cname := name
			if !same {
				cname = u.sd.src.Name + "." + name
			}
			f := &u.sd.ev.Fields[u.fi]
			u.sd.fields = append(u.sd.fields, fieldDec{f: *f, col: l.add(cname, f)})
		}
	}
}

// colLayout adds columns to a Reader by name.
type colLayout struct {
	r       *Reader
	idx     map[string]int
	nextAlt map[string]int // the next suffix to try per clashing name
}

// add returns the column of f under name, made when new.
func (l *colLayout) add(name string, f *eventfmt.Field) int {
	r := l.r
	t, k, w := typeFor(f)
	if i, ok := l.idx[name]; ok {
		if c := &r.cols[i]; arrow.TypeEqual(c.typ, t) && c.kind == k && c.width == w {
			return i
		}
		// Two sources of one name (or one format naming two fields
		// alike) with different types: a column of its own, never a
		// column of another type.
		base := name
		for n := max(l.nextAlt[base], 2); ; n++ {
			alt := base + "#" + strconv.Itoa(n)
			if _, taken := l.idx[alt]; !taken {
				name, l.nextAlt[base] = alt, n+1
				break
			}
		}
	}
	hint := 0
	if k != colFixed {
		// Char arrays are mostly shorter than their size; strings vary.
		hint = min(max(f.Size/2, 8), 64)
	}
	r.cols = append(r.cols, column{name: name, typ: t, kind: k, width: w, sizeHint: hint})
	l.idx[name] = len(r.cols) - 1
	return len(r.cols) - 1
}

// arrowSchema is the common columns, then the field columns.
func (r *Reader) arrowSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: ColTS, Type: arrow.PrimitiveTypes.Uint64},
		{Name: ColCPU, Type: arrow.PrimitiveTypes.Uint32},
		{Name: ColPID, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColTID, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColComm, Type: dictType, Nullable: true},
		{Name: ColProbe, Type: dictType},
		{Name: ColStackID, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: ColPeriod, Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	}
	for _, c := range r.cols {
		fields = append(fields, arrow.Field{Name: c.name, Type: c.typ, Nullable: true})
	}
	md := arrow.NewMetadata([]string{"kpcap.application", "kpcap.hostname", "kpcap.kernel"},
		[]string{r.f.Header.Application, r.f.Header.Host.Hostname, r.f.Header.Host.Kernel})
	return arrow.NewSchema(fields, &md)
}

// finishDecoders splits each decoder's fields for the hot loop, finds its
// special and text columns and compiles the filter for it. A filter that
// no source can evaluate is an error.
func (r *Reader) finishDecoders(expr *filter.Expr) error {
	var typeErr error
	compiled := 0
	for i, sd := range r.decs {
		if sd == nil {
			continue
		}
		m := map[string]int{}
		for _, fd := range sd.fields {
			m[fd.f.Name] = numCommon + fd.col
			if fd.f.Kind == eventfmt.KindInt {
				sd.ints = append(sd.ints, intDec{off: fd.f.Offset, size: fd.f.Size, col: fd.col})
				if e := fd.f.Offset + fd.f.Size; e > sd.minLen {
					sd.minLen = e
				}
			} else {
				sd.vars = append(sd.vars, fd)
			}
		}
		r.infos[i].Fields = m
		for k, name := range []string{"__probe_ip", "__probe_func", "__probe_ret_ip"} {
			if f := sd.ev.Field(name); f != nil && f.Kind == eventfmt.KindInt && f.Size == 8 {
				sd.special[k] = m[name]
			}
		}
		sd.textCols = r.textColsFor(sd)
		if expr == nil {
			continue
		}
		ok, err := sd.compile(expr)
		if ok {
			compiled++
		}
		if err != nil && typeErr == nil {
			typeErr = err
		}
	}
	if expr != nil && compiled == 0 {
		if typeErr != nil {
			return typeErr
		}
		return fmt.Errorf("%w %s", ErrFilterFields, strings.Join(expr.Fields(), ", "))
	}
	return nil
}

// compile sets the source's filter predicate. A field missing in the
// source, or of another type there, makes the filter false for this source
// only (ok false; err says why for a type).
func (sd *sourceDec) compile(expr *filter.Expr) (ok bool, err error) {
	pred, ok, err := expr.Compile(sd.resolve)
	switch {
	case err != nil:
		sd.pred, sd.predFalse = func(filter.Row) bool { return false }, true
		return false, fmt.Errorf("source %s: %w", sd.src.Name, err)
	case ok:
		sd.pred = pred
	default:
		sd.pred, sd.predFalse = pred, true
	}
	return ok, nil
}

// numCommon is the number of common columns before the event fields.
const numCommon = 8

var dictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// Filter field ids beyond the event's own fields.
const (
	idCPU = -1 - iota
	idComm
	idPID
)

// resolve maps a filter field name to this source's field: the event's own
// fields first (as ftrace does), then cpu/comm/common_pid.
func (sd *sourceDec) resolve(name string) (filter.Field, bool) {
	for i := range sd.ev.Fields {
		f := &sd.ev.Fields[i]
		if f.Name != name {
			continue
		}
		switch {
		case f.Kind == eventfmt.KindInt && f.Signed:
			return filter.Field{Type: filter.Signed, ID: i}, true
		case f.Kind == eventfmt.KindInt:
			return filter.Field{Type: filter.Unsigned, ID: i}, true
		case f.Kind == eventfmt.KindString || f.Text:
			return filter.Field{Type: filter.String, ID: i}, true
		}
		return filter.Field{}, false
	}
	switch name {
	case "cpu", "CPU", "common_cpu":
		return filter.Field{Type: filter.Unsigned, ID: idCPU}, true
	case "comm", "COMM":
		return filter.Field{Type: filter.String, ID: idComm}, true
	case "common_pid":
		return filter.Field{Type: filter.Signed, ID: idPID}, true
	}
	return filter.Field{}, false
}
