package dataset

import (
	"fmt"
	"slices"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/replay/internal/bysource"
)

// colKind is how an events column is gathered from the reader's batches
// and written.
type colKind int

const (
	kindTraceID colKind = iota // constant: written as dictionary index 0
	kindTS                     // uint64 ns as int64
	kindTime                   // derived from ts when written: no buffer
	kindInt32                  // int32 or uint32 (bit pattern kept)
	kindComm                   // indices into the reader's comm dictionary, one per row
	kindInt64                  // any integer widened to int64 (uint64 bit pattern kept)
	kindBytes                  // utf8 or binary values
)

// colSpec is one events column of a source.
type colSpec struct {
	kind     colKind
	src      int // column in the reader's batches
	nullable bool
	field    int // index into bysource.Rows.Fields; -1 for a common column
}

// Columns of the reader's batches the events tables take.
const (
	srcTS     = 0
	srcCPU    = 1
	srcPID    = 2
	srcTID    = 3
	srcComm   = 4
	srcStack  = 6
	srcPeriod = 7
)

// colData holds one column's gathered rows: definition levels for a
// nullable column (one per row) and the values of the non-null rows, or
// for kindComm one index per row (any value under a null).
type colData struct {
	def  []int16
	i32  []int32
	i64  []int64
	data []byte   // kindBytes: the values back to back
	ends []uint32 // kindBytes: the end of each value in data
}

// rowGroup is the rows of one source gathered since its last row group
// was written.
type rowGroup struct {
	n     int
	bytes int // approximate memory held
	cols  []colData
}

// Buffers of row groups written, for the row groups of later sources
// and traces: fresh buffers cost zeroing and page faults, and a fleet
// export makes a few per trace. One pool per type, so that a buffer keeps
// serving one kind of column.
var (
	defPool  slicePool[int16]
	i32Pool  slicePool[int32]
	i64Pool  slicePool[int64]
	dataPool slicePool[byte]
	endsPool slicePool[uint32]
)

type slicePool[T any] struct{ p sync.Pool }

// get returns an empty slice with room for n values.
func (p *slicePool[T]) get(n int) []T {
	if b, ok := p.p.Get().(*[]T); ok {
		return slices.Grow((*b)[:0], n)
	}
	return make([]T, 0, n)
}

func (p *slicePool[T]) put(b []T) {
	if cap(b) > 0 {
		b = b[:0]
		p.p.Put(&b)
	}
}

// newRowGroup returns a row group of the columns specs with room for
// rows rows: sized from the trace's statistics, most sources' rows fit one
// row group and their buffers never grow.
func newRowGroup(specs []colSpec, rows int) *rowGroup {
	g := &rowGroup{cols: make([]colData, len(specs))}
	for k, sp := range specs {
		c := &g.cols[k]
		if sp.nullable {
			c.def = defPool.get(rows)
		}
		switch sp.kind {
		case kindTS, kindInt64:
			c.i64 = i64Pool.get(rows)
		case kindInt32, kindComm:
			c.i32 = i32Pool.get(rows)
		case kindBytes:
			c.ends = endsPool.get(rows)
			c.data = dataPool.get(0)
		}
	}
	return g
}

// recycle hands g's buffers to later row groups.
func (g *rowGroup) recycle() {
	for i := range g.cols {
		c := &g.cols[i]
		defPool.put(c.def)
		i32Pool.put(c.i32)
		i64Pool.put(c.i64)
		dataPool.put(c.data)
		endsPool.put(c.ends)
	}
	g.cols = nil
}

func (c *colData) reset() {
	c.def, c.i32, c.i64, c.data, c.ends = c.def[:0], c.i32[:0], c.i64[:0], c.data[:0], c.ends[:0]
}

func (g *rowGroup) reset() {
	g.n, g.bytes = 0, 0
	for i := range g.cols {
		g.cols[i].reset()
	}
}

// gather appends rows idx of rec (every row when idx is nil) to g.
func (g *rowGroup) gather(rec arrow.Record, specs []colSpec, idx []int32) error {
	n := int(rec.NumRows())
	if idx != nil {
		n = len(idx)
	}
	for k, sp := range specs {
		c := &g.cols[k]
		switch sp.kind {
		case kindTraceID, kindTime:
			continue
		}
		a := rec.Column(sp.src)
		if sp.nullable {
			c.def = appendDef(c.def, a, idx, n)
		}
		switch sp.kind {
		case kindTS:
			v, ok := a.(*array.Uint64)
			if !ok {
				return fmt.Errorf("column %s: %s, want uint64", rec.ColumnName(sp.src), a.DataType())
			}
			c.i64 = gatherInt(c.i64, a, v.Uint64Values(), idx, n, false)
		case kindInt32:
			switch v := a.(type) {
			case *array.Int32:
				c.i32 = gatherInt(c.i32, a, v.Int32Values(), idx, n, sp.nullable)
			case *array.Uint32:
				c.i32 = gatherInt(c.i32, a, v.Uint32Values(), idx, n, sp.nullable)
			default:
				return fmt.Errorf("column %s: %s, want a 32-bit integer", rec.ColumnName(sp.src), a.DataType())
			}
		case kindComm:
			d, ok := a.(*array.Dictionary)
			if !ok {
				return fmt.Errorf("column %s: %s, want a dictionary", rec.ColumnName(sp.src), a.DataType())
			}
			ind, ok := d.Indices().(*array.Int32)
			if !ok {
				return fmt.Errorf("column %s: %s indices, want int32", rec.ColumnName(sp.src), d.Indices().DataType())
			}
			// One index per row, nulls included: the dictionary writer
			// takes them spaced.
			c.i32 = gatherInt(c.i32, ind, ind.Int32Values(), idx, n, false)
		case kindInt64:
			var err error
			if c.i64, err = gatherInt64(c.i64, a, idx, n, sp.nullable); err != nil {
				return fmt.Errorf("column %s: %w", rec.ColumnName(sp.src), err)
			}
		case kindBytes:
			switch v := a.(type) {
			case *array.String:
				c.data, c.ends = gatherVar(c.data, c.ends, a, v.ValueOffsets(), v.ValueBytes(), idx, n)
			case *array.Binary:
				c.data, c.ends = gatherVar(c.data, c.ends, a, v.ValueOffsets(), v.ValueBytes(), idx, n)
			default:
				return fmt.Errorf("column %s: %s, want utf8 or binary", rec.ColumnName(sp.src), a.DataType())
			}
		}
	}
	g.n += n
	return nil
}

// appendRows appends one frame's rows of the source to g.
func (g *rowGroup) appendRows(rows *bysource.Rows, specs []colSpec) {
	for k, sp := range specs {
		c := &g.cols[k]
		var in *bysource.Col
		switch {
		case sp.kind == kindTraceID || sp.kind == kindTime:
			continue
		case sp.field >= 0:
			in = &rows.Fields[sp.field]
		case sp.src == srcTS:
			c.i64 = append(c.i64, rows.TS...)
			continue
		case sp.src == srcCPU:
			c.i32 = append(c.i32, rows.CPU...)
			continue
		case sp.src == srcPID:
			c.i32 = append(c.i32, rows.PID...)
			continue
		case sp.src == srcTID:
			c.i32 = append(c.i32, rows.TID...)
			continue
		case sp.src == srcComm:
			in = &rows.Comm
		case sp.src == srcStack:
			in = &rows.Stack
		case sp.src == srcPeriod:
			in = &rows.Period
		default:
			continue
		}
		if sp.nullable {
			c.def = append(c.def, in.Def...)
		}
		c.i32 = append(c.i32, in.I32...)
		c.i64 = append(c.i64, in.I64...)
		base := uint32(len(c.data))
		c.data = append(c.data, in.Data...)
		for _, e := range in.Ends {
			c.ends = append(c.ends, base+e)
		}
	}
	g.n += rows.N
}

// size recomputes the memory g holds.
func (g *rowGroup) size() int {
	b := 0
	for i := range g.cols {
		c := &g.cols[i]
		b += 2*len(c.def) + 4*len(c.i32) + 8*len(c.i64) + len(c.data) + 4*len(c.ends)
	}
	return b
}

// appendDef appends the definition levels (1 valid, 0 null) of rows idx.
func appendDef(def []int16, a arrow.Array, idx []int32, n int) []int16 {
	switch a.NullN() {
	case 0:
		for range n {
			def = append(def, 1)
		}
		return def
	case a.Len():
		for range n {
			def = append(def, 0)
		}
		return def
	}
	if idx == nil {
		for i := range n {
			def = append(def, int16(b2i(a.IsValid(i))))
		}
		return def
	}
	for _, j := range idx {
		def = append(def, int16(b2i(a.IsValid(int(j)))))
	}
	return def
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// gatherInt appends the values of rows idx of a (whose values are vals)
// converted to T, only the non-null ones when skipNulls (Parquet stores
// the defined values of an optional column).
func gatherInt[T int32 | int64, V integer](dst []T, a arrow.Array, vals []V, idx []int32, n int, skipNulls bool) []T {
	if skipNulls && a.NullN() == a.Len() {
		return dst
	}
	if !skipNulls || a.NullN() == 0 {
		if idx == nil {
			for _, v := range vals[:n] {
				dst = append(dst, T(v))
			}
			return dst
		}
		for _, j := range idx {
			dst = append(dst, T(vals[j]))
		}
		return dst
	}
	for i := range n {
		j := i
		if idx != nil {
			j = int(idx[i])
		}
		if a.IsValid(j) {
			dst = append(dst, T(vals[j]))
		}
	}
	return dst
}

// gatherInt64 appends the non-null values of rows idx of integer array a
// widened to int64.
func gatherInt64(dst []int64, a arrow.Array, idx []int32, n int, skipNulls bool) ([]int64, error) {
	if skipNulls && a.NullN() == a.Len() && arrow.IsInteger(a.DataType().ID()) {
		return dst, nil
	}
	switch v := a.(type) {
	case *array.Int8:
		return gatherInt(dst, a, v.Int8Values(), idx, n, skipNulls), nil
	case *array.Int16:
		return gatherInt(dst, a, v.Int16Values(), idx, n, skipNulls), nil
	case *array.Int32:
		return gatherInt(dst, a, v.Int32Values(), idx, n, skipNulls), nil
	case *array.Int64:
		return gatherInt(dst, a, v.Int64Values(), idx, n, skipNulls), nil
	case *array.Uint8:
		return gatherInt(dst, a, v.Uint8Values(), idx, n, skipNulls), nil
	case *array.Uint16:
		return gatherInt(dst, a, v.Uint16Values(), idx, n, skipNulls), nil
	case *array.Uint32:
		return gatherInt(dst, a, v.Uint32Values(), idx, n, skipNulls), nil
	case *array.Uint64:
		return gatherInt(dst, a, v.Uint64Values(), idx, n, skipNulls), nil
	}
	return dst, fmt.Errorf("%s is not an integer column", a.DataType())
}

// gatherVar appends the non-null values of rows idx of a variable-width
// array (offsets offs into data) to buf, recording where each ends.
func gatherVar(buf []byte, ends []uint32, a arrow.Array, offs []int32, data []byte, idx []int32, n int) ([]byte, []uint32) {
	base := offs[0]
	for i := range n {
		j := i
		if idx != nil {
			j = int(idx[i])
		}
		if a.IsValid(j) {
			buf = append(buf, data[offs[j]-base:offs[j+1]-base]...)
			ends = append(ends, uint32(len(buf)))
		}
	}
	return buf, ends
}
