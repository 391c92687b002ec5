// Package replay decodes kpcap trace files into Apache Arrow record batches
// (and text, JSON, Arrow IPC and Parquet), using the event formats stored in
// the file.
package replay

// THIS FILE HOLDS THE AGREED API WITH PLACEHOLDER BODIES; the replay helper
// replaces it (same names and signatures; additions are fine).

import (
	"errors"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/format"
)

var errTODO = errors.New("replay: not implemented yet")

// Column names common to every batch, in this order, before the event fields:
//
//	ts       uint64                    ns on the capture clock (CLOCK_MONOTONIC)
//	cpu      uint32
//	pid      int32
//	tid      int32
//	comm     dictionary<int32, utf8>
//	probe    dictionary<int32, utf8>   the source name "GROUP:EVENT"
//	stack_id int64 (nullable)          id into Reader.Stack; null when no callchain
//
// then one nullable typed column per event field (common_* fields omitted): uN/sN
// → Uint/Int, char arrays and __data_loc strings → utf8, other arrays → binary.
// A field name that clashes between sources with different types is prefixed
// "SOURCE.field" (with ':' kept).
const (
	ColTS      = "ts"
	ColCPU     = "cpu"
	ColPID     = "pid"
	ColTID     = "tid"
	ColComm    = "comm"
	ColProbe   = "probe"
	ColStackID = "stack_id"
)

// Options select and shape what a Reader returns.
type Options struct {
	Probes    []string // source names to keep (exact or glob); empty = all
	Filter    string   // ftrace filter expression evaluated offline; "" = none
	Since     uint64   // keep ts >= Since (0 = from start); ns on the capture clock
	Until     uint64   // keep ts < Until (0 = to end)
	BatchSize int      // rows per record batch; default 64Ki
	Workers   int      // frame decoders; default runtime.NumCPU()
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
// bounded memory.
type Reader struct{}

// Open opens path with opts.
func Open(path string, opts Options) (*Reader, error) { return nil, errTODO }

// NewReader wraps an already open format.File.
func NewReader(f *format.File, opts Options) (*Reader, error) { return nil, errTODO }

// Schema is the schema of every batch.
func (r *Reader) Schema() *arrow.Schema { return nil }

// Next advances to the next batch.
func (r *Reader) Next() bool { return false }

// Record is the current batch, valid until the next call to Next (Retain to keep it).
func (r *Reader) Record() arrow.Record { return nil }

// Err is the first error met.
func (r *Reader) Err() error { return errTODO }

// Close releases everything.
func (r *Reader) Close() error { return nil }

// File is the underlying trace file (metadata, stats, loss).
func (r *Reader) File() *format.File { return nil }

// Stack returns the frames of stack id, leaf first.
func (r *Reader) Stack(id int64) []Frame { return nil }
