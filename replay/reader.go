package replay

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/format/warn"
)

// Column names common to every batch, in this order, before the event fields:
//
//	ts       uint64                    ns on the capture clock (CLOCK_MONOTONIC)
//	cpu      uint32
//	pid      int32
//	tid      int32
//	comm     dictionary<int32, utf8>   null when the trace does not name the task
//	probe    dictionary<int32, utf8>   the source name "GROUP:EVENT"; the index is the source's index in Header.Sources
//	stack_id int64 (nullable)          id into Reader.Stack; null when no callchain
//
// then one nullable typed column per event field (common_* fields omitted): uN/sN
// → Uint/Int, char arrays and __data_loc strings → utf8, other arrays → binary.
// A field name that clashes between sources with different types, or with a
// common column (e.g. sched_process_exec's "pid"), is prefixed "SOURCE.field"
// (with ':' kept).
//
// The dictionaries of comm and probe are the same arrays in every batch.
const (
	ColTS      = "ts"
	ColCPU     = "cpu"
	ColPID     = "pid"
	ColTID     = "tid"
	ColComm    = "comm"
	ColProbe   = "probe"
	ColStackID = "stack_id"
	// ColPeriod is the number of events a sample stands for (PERF_SAMPLE_PERIOD),
	// null when it counts one: a tracepoint passing a count, such as
	// sched:sched_stat_runtime's runtime in ns, has it.
	ColPeriod = "period"
)

// Options select and shape what a Reader returns.
type Options struct {
	Probes    []string // source names to keep (exact or glob, "GROUP:EVENT" or "EVENT"); empty = all
	Filter    string   // ftrace filter expression evaluated offline; "" = none
	Since     uint64   // keep ts >= Since (0 = from start); ns on the capture clock
	Until     uint64   // keep ts < Until (0 = to end)
	BatchSize int      // maximum rows per record batch; default 64Ki
	Workers   int      // frame decoders (and text/JSON formatters); default runtime.NumCPU()
}

// Frame is one symbolized stack frame.
type Frame struct {
	Addr   uint64
	Name   string // function ("[unknown]" when unresolved)
	Offset uint64
	Module string // kernel module or user object; "" for vmlinux
	Kernel bool
}

// Reader streams Arrow record batches of a trace, merged in time order, with
// bounded memory: frames are decoded in parallel, a few at a time, and
// batches are handed out in time order.
type Reader struct {
	f      *format.File
	ownsF  bool
	opts   Options
	schema *arrow.Schema
	cols   []column
	decs   []*sourceDec
	infos  []SourceInfo
	comms  *commIndex

	probeDict, commDict arrow.Array

	frames []int // frame indexes to decode

	// pipeline
	order   chan chan *chunk
	frameCh chan *chunk // the chunks of the frame being taken from order
	wide    bool        // many columns: chunks and batches of fewer rows (wideBatch)
	done    chan struct{}
	wg      sync.WaitGroup
	started bool
	closed  bool

	// pending holds the chunks not yet turned into batches: one, or
	// several small in-order ones that collapse copies into one batch
	// (copying each as it comes would make coalescing quadratic).
	pending  []*chunk
	pendN    int    // rows in pending
	pendMax  uint64 // largest time in pending
	queue    []arrow.Record
	cur      arrow.Record
	lastTS   uint64
	emitted  bool
	err      error
	finished bool

	stacks *stackTable
	ksyms  *kernelSymbols

	mu         sync.Mutex
	warnings   warn.Groups
	truncated  []uint64
	outOfOrder uint64
	rows       atomic.Int64
	bytesRead  atomic.Int64
	// copiedRows counts the rows sorting and merging copied: coalescing
	// copies each row once, not once per frame it is coalesced with.
	copiedRows atomic.Int64
	// ahead counts the chunks decoded, or being decoded, that Next has not
	// taken yet: what the decoders hold beyond the batches returned.
	ahead atomic.Int64
	// varPerRow[col] is the value bytes per 1024 rows the latest decoded
	// frame used in variable-width column col (0: none yet).
	varPerRow []atomic.Uint64
}

// Open opens path with opts.
func Open(path string, opts Options) (*Reader, error) {
	f, err := format.Open(path)
	return readerOwning(f, err, opts)
}

// readerOwning wraps f, as Open or OpenSet just opened it (with their
// error), in a Reader whose Close closes f.
func readerOwning(f *format.File, err error, opts Options) (*Reader, error) {
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.ownsF = true
	return r, nil
}

// NewReader wraps an already open format.File. Close does not close f.
func NewReader(f *format.File, opts Options) (*Reader, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 64 << 10
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	r := &Reader{f: f, opts: opts, done: make(chan struct{})}
	if err := r.buildSchema(); err != nil {
		return nil, err
	}
	r.wide, r.opts.BatchSize = wideBatch(len(r.cols), r.opts.BatchSize)
	r.varPerRow = make([]atomic.Uint64, len(r.cols))
	r.truncated = make([]uint64, len(f.Header.Sources))
	r.comms = newCommIndex(f.Comms, f.Header.Host.CPUs)
	r.ksyms = newKernelSymbols(f.Symbols)
	r.stacks = newStackTable(r)
	names := make([]string, len(f.Header.Sources))
	for i, s := range f.Header.Sources {
		names[i] = s.Name
	}
	r.probeDict = stringArray(names)
	r.commDict = stringArray(r.comms.dict)
	for i, fi := range f.Frames {
		if opts.Since != 0 && fi.Samples > 0 && fi.LastNS < opts.Since {
			continue
		}
		if opts.Until != 0 && fi.Samples > 0 && fi.FirstNS >= opts.Until {
			continue
		}
		r.frames = append(r.frames, i)
	}
	return r, nil
}

func stringArray(vals []string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

// Schema is the schema of every batch.
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// Sources describes every source of the file; the probe column's dictionary
// index of a row is the index into this slice.
func (r *Reader) Sources() []SourceInfo { return r.infos }

// FieldColumn returns the column index holding field of source (the index in
// Header.Sources), or -1 when the source has no such decoded field.
func (r *Reader) FieldColumn(source int, field string) int {
	if source < 0 || source >= len(r.infos) {
		return -1
	}
	if i, ok := r.infos[source].Fields[field]; ok {
		return i
	}
	return -1
}

// File is the underlying trace file (metadata, stats, loss).
func (r *Reader) File() *format.File { return r.f }

// Rows returns how many rows have been returned so far; safe to call from
// another goroutine (progress display).
func (r *Reader) Rows() int64 { return r.rows.Load() }

// BytesRead returns the compressed bytes of the sample frames decoded so
// far (they are decoded a few frames ahead of the batches returned); safe
// to call from another goroutine, e.g. for a progress line.
func (r *Reader) BytesRead() int64 { return r.bytesRead.Load() }

// Warnings lists what could not be decoded cleanly so far: unparsable event
// formats, truncated payloads (their fields are null), out-of-order samples
// beyond the reorder window. Alike warnings (one kind of damage in many
// frames or sources) share one line, its first example with a count, and
// at most warn.MaxKinds lines plus every first warning of its own kind are
// kept. The file's own warnings are in File().Warnings.
func (r *Reader) Warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.warnings.Clone()
	for i, n := range r.truncated {
		if n > 0 {
			g.Add("source %s: %d samples shorter than their event format (missing fields are null)", r.f.Header.Sources[i].Name, n)
		}
	}
	if r.outOfOrder > 0 {
		g.Add("%d samples came out of time order beyond the reorder window", r.outOfOrder)
	}
	return g.Lines()
}

func (r *Reader) warnf(format string, a ...any) {
	r.mu.Lock()
	r.warnings.Add(format, a...)
	r.mu.Unlock()
}

// Next advances to the next batch.
func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.closed {
		return false
	}
	if !r.started {
		r.start()
	}
	for len(r.queue) == 0 {
		if r.finished || r.err != nil {
			return false
		}
		c, ok := r.nextChunk()
		if !ok {
			r.finished = true
			if len(r.pending) > 0 {
				r.emit(r.collapse())
			}
			continue
		}
		r.mu.Lock()
		for k, v := range c.truncated {
			r.truncated[k] += v
		}
		r.mu.Unlock()
		if c.err != nil {
			// A corrupt frame loses its samples from the damage on, not
			// the whole trace.
			r.warnf("%v (the frame's samples from there on are lost)", c.err)
		}
		if c.n == 0 {
			c.release()
			continue
		}
		for k := range c.truncated {
			c.truncated[k] = 0 // counted above
		}
		switch nextMergeStep(r.pendN, r.pendMax, c.minTS, c.n, r.coalesceRows()) {
		case stepHold, stepCoalesce:
			r.hold(c)
		case stepFlush:
			r.emit(r.collapse())
			r.hold(c)
		case stepMerge:
			m := r.mergeChunks(r.collapse(), c)
			if m.n > r.reorderRows() {
				r.emit(m)
			} else {
				r.hold(m)
			}
		}
	}
	r.cur = r.queue[0]
	r.queue[0] = nil
	r.queue = r.queue[1:]
	r.rows.Add(r.cur.NumRows())
	return true
}

// emit turns a chunk into batches of at most BatchSize rows.
func (r *Reader) emit(c *chunk) {
	if r.emitted && c.minTS < r.lastTS {
		var n uint64
		for _, t := range c.ts[:c.n] {
			if t < r.lastTS {
				n++
			}
		}
		r.mu.Lock()
		r.outOfOrder += n
		r.mu.Unlock()
	}
	r.emitted = true
	if c.maxTS > r.lastTS {
		r.lastTS = c.maxTS
	}
	if c.hasStacks {
		ids := make([]int64, len(c.stacks))
		for i, k := range c.stacks {
			ids[i] = r.stacks.intern(k)
		}
		for i, s := range c.stack[:c.n] {
			if s >= 0 {
				c.stack[i] = ids[s]
			}
		}
	}
	rec := r.toRecord(c)
	defer rec.Release()
	bs := int64(r.opts.BatchSize)
	for off := int64(0); off < rec.NumRows(); off += bs {
		end := off + bs
		if end > rec.NumRows() {
			end = rec.NumRows()
		}
		if off == 0 && end == rec.NumRows() {
			rec.Retain()
			r.queue = append(r.queue, rec)
			break
		}
		r.queue = append(r.queue, rec.NewSlice(off, end))
	}
}

// Record is the current batch, valid until the next call to Next (Retain to keep it).
func (r *Reader) Record() arrow.Record { return r.cur }

// Err is the first error met.
func (r *Reader) Err() error { return r.err }

// Close releases everything (and the file when the Reader opened it).
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	close(r.done)
	if r.started {
		// The dispatcher stops on done; workers never block (result channels
		// are buffered), so this returns once in-flight frames are decoded.
		r.wg.Wait()
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for _, q := range r.queue {
		q.Release()
	}
	r.queue = nil
	if r.ownsF {
		return r.f.Close()
	}
	return nil
}

// Options returns the options r was opened with (defaults filled in).
func (r *Reader) Options() Options { return r.opts }
