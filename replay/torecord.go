package replay

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// toRecord wraps a chunk's buffers as an Arrow record without copying. The
// pooled buffers go back to the pool when the record is released.
func (r *Reader) toRecord(c *chunk) arrow.Record {
	n := c.n
	am := arrayMaker{c: c, n: n}
	cols := make([]arrow.Array, 0, numCommon+len(r.cols))
	cols = append(cols,
		am.common(rawTS, arrow.PrimitiveTypes.Uint64, nil, 0),
		am.common(rawCPU, arrow.PrimitiveTypes.Uint32, nil, 0),
		am.common(rawPID, arrow.PrimitiveTypes.Int32, nil, 0),
		am.common(rawTID, arrow.PrimitiveTypes.Int32, nil, 0))
	// comm: indexes with nulls where the task is unnamed.
	var cv []byte
	cnulls := 0
	if c.unknownComm {
		cv, cnulls = commValidity(c.comm[:n])
	}
	ci := am.common(rawComm, arrow.PrimitiveTypes.Int32, cv, cnulls)
	cols = append(cols, array.NewDictionaryArray(dictType, ci, r.commDict))
	ci.Release()
	pi := am.common(rawProbe, arrow.PrimitiveTypes.Int32, nil, 0)
	cols = append(cols, array.NewDictionaryArray(dictType, pi, r.probeDict))
	pi.Release()
	sv, snulls := stackValidity(c.stack[:n])
	cols = append(cols, am.common(rawStack, arrow.PrimitiveTypes.Int64, sv, snulls))
	pv, pnulls := periodValidity(c.period[:n])
	cols = append(cols, am.common(rawPeriod, arrow.PrimitiveTypes.Uint64, pv, pnulls))
	nullCols := nullColumns{n: n}
	defer nullCols.release()
	for i := range r.cols {
		col := &r.cols[i]
		b := c.cols[i]
		if b == nil {
			cols = append(cols, nullCols.array(col))
			continue
		}
		nulls := n - popcount(b.valid, n)
		if b.width > 0 {
			cols = append(cols, am.build(col.typ, b.valid, nulls, pooled(b.data[:n*b.width])))
			continue
		}
		b.finishVar(n)
		cols = append(cols, am.build(col.typ, b.valid, nulls, pooled(int32Bytes(b.offsets)[:(n+1)*4]), memory.NewBufferBytes(b.data)))
	}
	c.cols = nil
	rec := array.NewRecord(r.schema, cols, int64(n))
	for _, a := range cols {
		a.Release()
	}
	return rec
}

// arrayMaker builds the arrays of a chunk's n rows over its buffers.
type arrayMaker struct {
	c *chunk
	n int
}

// build builds an array over buffers, taking ownership of the pooled ones:
// a nil validity means no nulls; an unused pooled validity is returned.
func (am arrayMaker) build(t arrow.DataType, valid []byte, nulls int, bufs ...*memory.Buffer) arrow.Array {
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferWithAllocator(valid, &pool)
	} else if valid != nil {
		pool.put(valid)
	}
	d := array.NewData(t, am.n, append([]*memory.Buffer{vb}, bufs...), nil, nulls, 0)
	if vb != nil {
		vb.Release()
	}
	for _, b := range bufs {
		b.Release()
	}
	a := array.MakeFromData(d)
	d.Release()
	return a
}

// common builds common column i over its raw buffer, which it takes.
func (am arrayMaker) common(i int, t arrow.DataType, valid []byte, nulls int) arrow.Array {
	b := am.c.raw[i][:am.n*rawWidth[i]]
	am.c.raw[i] = nil
	return am.build(t, valid, nulls, pooled(b))
}

// pooled wraps a buffer of the pool.
func pooled(b []byte) *memory.Buffer { return memory.NewBufferWithAllocator(b, &pool) }

// commValidity is the validity bitmap of comm indexes (-1: unnamed, set to
// 0) and the number of nulls.
func commValidity(comm []int32) ([]byte, int) {
	v := pool.getZero((len(comm) + 7) / 8)
	nulls := 0
	for i, x := range comm {
		if x >= 0 {
			v[i>>3] |= 1 << (i & 7)
		} else {
			comm[i] = 0
			nulls++
		}
	}
	return v, nulls
}

// stackValidity is the validity bitmap of stack ids (-1: none, set to 0)
// and the number of nulls.
func stackValidity(stack []int64) ([]byte, int) {
	v := pool.getZero((len(stack) + 7) / 8)
	nulls := 0
	for i, x := range stack {
		if x >= 0 {
			v[i>>3] |= 1 << (i & 7)
		} else {
			stack[i] = 0
			nulls++
		}
	}
	return v, nulls
}

// periodValidity is the validity bitmap of periods (noPeriod: none, set to
// 0) and the number of nulls.
func periodValidity(period []uint64) ([]byte, int) {
	v := pool.getZero((len(period) + 7) / 8)
	nulls := 0
	for i, x := range period {
		if x != noPeriod {
			v[i>>3] |= 1 << (i & 7)
		} else {
			period[i] = 0
			nulls++
		}
	}
	return v, nulls
}
