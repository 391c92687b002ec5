// Package bysource carries a trace's decoded samples, split by source into
// Parquet-shaped columns, from package replay to the dataset export: the
// export writes them as they come, without the replay Reader's Arrow
// batches and without splitting rows by source afterwards.
//
// Package replay implements the pass (Register, from its init); the rows
// come in the replay Reader's order, cell for cell what its batches hold.
package bysource

import (
	"errors"

	"github.com/apache/arrow/go/v17/arrow"
)

// Col is one column of a source's rows. Def holds one definition level per
// row for a nullable column (1 a value, 0 null); the values are those of
// the non-null rows only, as Parquet stores them, except Comm's indices,
// one per row (0 under a null).
type Col struct {
	Def  []int16
	I32  []int32
	I64  []int64
	Data []byte   // variable-width values back to back
	Ends []uint32 // the end of each value in Data
}

// Reset empties c, keeping its memory.
func (c *Col) Reset() {
	c.Def, c.I32, c.I64, c.Data, c.Ends = c.Def[:0], c.I32[:0], c.I64[:0], c.Data[:0], c.Ends[:0]
}

// Rows are one source's rows of one frame, in the Reader's order.
type Rows struct {
	N int
	// TS is the capture-clock time in ns (the uint64's bit pattern), CPU
	// the uint32's; PID and TID.
	TS            []int64
	CPU, PID, TID []int32
	// Comm holds indices into the Reader's comm dictionary, one per row,
	// null where the task is unnamed.
	Comm Col
	// Stack holds the Reader's stack ids (Reader.StacksRecord), null where
	// the sample has no callchain.
	Stack Col
	// Period is the sample's period, null where it counts one event.
	Period Col
	// Fields are the source's event fields in the order of their columns
	// in the Reader's schema: integers widened to int64 (a uint64 keeps its
	// bit pattern), strings and arrays as bytes.
	Fields []Col
}

// Frame is the rows of one frame of the trace, per source (nil or empty
// where a source has none), handed over in frame order.
type Frame struct {
	Sources []*Rows
	// CommDict is the Reader's comm dictionary (utf8), the same array in
	// every frame, which Rows.Comm indexes.
	CommDict arrow.Array
}

// ErrUnordered is returned by Pass when the trace's frames overlap in time:
// the Reader merges such frames, which this pass does not, so the caller
// reads the trace through the Reader instead (having discarded what it
// wrote).
var ErrUnordered = errors.New("frames overlap in time")

// ErrUnsupported is returned by Pass, before any frame, for a trace the
// pass cannot decode as the Reader does (such as a schema so wide that
// the Reader splits frames); the caller reads it through the Reader.
var ErrUnsupported = errors.New("not decodable by source")

// PassFunc decodes every frame of reader (a *replay.Reader that has not
// returned batches, opened without probe, filter or time selection) with
// workers goroutines and calls fn with each frame's rows in frame order,
// from one goroutine. fn may keep nothing of a Frame after it returns.
// Damaged frames become the reader's warnings, as with its batches.
type PassFunc func(reader any, workers int, fn func(*Frame) error) error

var pass PassFunc

// Register installs the pass; package replay calls it from its init.
func Register(f PassFunc) { pass = f }

// Pass runs the registered pass (see PassFunc).
func Pass(reader any, workers int, fn func(*Frame) error) error {
	if pass == nil {
		return ErrUnsupported
	}
	return pass(reader, workers, fn)
}
