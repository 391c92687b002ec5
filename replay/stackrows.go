package replay

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// StacksSchema is the schema of StacksRecord: one row per frame.
var StacksSchema = arrow.NewSchema([]arrow.Field{
	{Name: "stack_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "depth", Type: arrow.PrimitiveTypes.Int32}, // 0 = leaf
	{Name: "addr", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "offset", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "module", Type: arrow.BinaryTypes.String},
	{Name: "kernel", Type: arrow.FixedWidthTypes.Boolean},
}, nil)

// StacksRecord returns the symbolized frames of every stack seen so far (call
// it after reading) as one record of StacksSchema; the caller releases it.
// It holds every frame at once: WriteStacksArrow and WriteStacksParquet
// write them in batches instead.
func (r *Reader) StacksRecord() arrow.Record {
	rows := newStackRows(r, int(^uint(0)>>1))
	if !rows.Next() {
		b := array.NewRecordBuilder(memory.DefaultAllocator, StacksSchema)
		defer b.Release()
		return b.NewRecord()
	}
	rec := rows.Record()
	rec.Retain()
	rows.release()
	return rec
}

// stackRows yields the rows of StacksSchema in records of at most max rows,
// so that writing the stacks of a file takes memory for one batch, not for
// every frame of every stack. A stack may span two records.
type stackRows struct {
	r      *Reader
	max    int
	stack  int // the next stack to read
	buf    []Frame
	frames []Frame // the frames of stack-1 not yet written (in buf)
	depth  int     // the depth of frames[0]
	rec    arrow.Record
}

// stackBatchRows is how many stack rows WriteStacksArrow and
// WriteStacksParquet build at a time (about 40 bytes each).
const stackBatchRows = 64 << 10

func newStackRows(r *Reader, max int) *stackRows { return &stackRows{r: r, max: max} }

// Next builds the next record; false when every frame is written.
func (s *stackRows) Next() bool {
	s.release()
	b := array.NewRecordBuilder(memory.DefaultAllocator, StacksSchema)
	defer b.Release()
	id := b.Field(0).(*array.Int64Builder)
	depth := b.Field(1).(*array.Int32Builder)
	addr := b.Field(2).(*array.Uint64Builder)
	name := b.Field(3).(*array.StringBuilder)
	off := b.Field(4).(*array.Uint64Builder)
	mod := b.Field(5).(*array.StringBuilder)
	kern := b.Field(6).(*array.BooleanBuilder)
	n := 0
	for n < s.max {
		if len(s.frames) == 0 {
			if s.stack >= s.r.StackCount() {
				break
			}
			s.buf = s.r.stacks.appendFrames(s.buf[:0], int64(s.stack))
			s.frames = s.buf
			s.depth = 0
			s.stack++
			continue
		}
		k := min(len(s.frames), s.max-n)
		for d, f := range s.frames[:k] {
			id.Append(int64(s.stack - 1))
			depth.Append(int32(s.depth + d))
			addr.Append(f.Addr)
			name.Append(f.Name)
			off.Append(f.Offset)
			mod.Append(f.Module)
			kern.Append(f.Kernel)
		}
		s.frames, s.depth, n = s.frames[k:], s.depth+k, n+k
	}
	if n == 0 {
		return false
	}
	s.rec = b.NewRecord()
	return true
}

// Record is the record Next built; valid until the next call to Next.
func (s *stackRows) Record() arrow.Record { return s.rec }

// Err is always nil: the stacks are in memory.
func (s *stackRows) Err() error { return nil }

func (s *stackRows) release() {
	if s.rec != nil {
		s.rec.Release()
		s.rec = nil
	}
}
