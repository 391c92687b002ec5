package replay

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// nullColumns builds the all-null arrays of one record's unused field
// columns over one zeroed buffer: a trace with thousands of sources has
// thousands of columns, most null in any batch, and a buffer of its own
// for each (array.MakeArrayOfNull) cost rows × columns × 8 bytes per batch.
type nullColumns struct {
	n    int
	zero *memory.Buffer
}

// array returns an all-null array of c's type and n rows.
func (nc *nullColumns) array(c *column) arrow.Array {
	n := nc.n
	if nc.zero == nil {
		nc.zero = memory.NewBufferBytes(make([]byte, max(8*n, 4*(n+1))))
	}
	bufs := []*memory.Buffer{memory.SliceBuffer(nc.zero, 0, (n+7)/8)}
	if c.kind == colFixed {
		bufs = append(bufs, memory.SliceBuffer(nc.zero, 0, n*c.width))
	} else {
		// Offsets all 0: every value is empty.
		bufs = append(bufs, memory.SliceBuffer(nc.zero, 0, 4*(n+1)), memory.NewBufferBytes(nil))
	}
	d := array.NewData(c.typ, n, bufs, nil, n, 0)
	for _, b := range bufs {
		b.Release()
	}
	a := array.MakeFromData(d)
	d.Release()
	return a
}

// release drops the builder's reference to the shared buffer (the arrays
// keep theirs).
func (nc *nullColumns) release() {
	if nc.zero != nil {
		nc.zero.Release()
		nc.zero = nil
	}
}
