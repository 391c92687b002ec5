// Package analyze turns kpcap traces into summaries, latency distributions,
// flame graphs, event timelines, Perfetto traces and comparisons (kernel to
// kernel, group to group). How each reads the trace:
//
//   - MeasureLatency, BuildFlame, Analyze and AnalyzeTimeline stream the
//     record batches of an Input (a replay.Reader, or a wrapper of one)
//     once; Analyze feeds every analysis it gathers from that one pass.
//   - Summarize first tries replay's counting pass (replay.Reader.Count),
//     which reads the file's samples without building batches. That pass
//     needs an unread Reader (or an Input embedding one) of a trace
//     without cgroups, read without filter or time window, and declines
//     whatever it would count differently from the batches (damaged
//     frames, short payloads, frames out of order, too many distinct
//     strings), leaving the Reader untouched; Summarize then streams the
//     batches. Both give the same summary.
//   - WritePerfetto streams the batches of a replay.Reader, writing packets
//     as it goes.
//   - Loss figures come from the file's statistics and loss records
//     (format.File), not from the batches.
//   - Compare, CompareGroups (through a GroupCollector), LatencyMerger,
//     FlameMerger and SummaryMerger work on the results of the above, one
//     trace at a time, never on a file.
//
// Memory is bounded by what is aggregated (sources, threads, distinct
// stacks, kept latency values), never by the number of events.
package analyze

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// Input is a stream of replay record batches with the trace's metadata;
// *replay.Reader implements it.
type Input interface {
	Next() bool
	Record() arrow.Record
	Err() error
	File() *format.File
	Stack(id int64) []replay.Frame
}

// batch gives typed access to the common columns of one record batch.
type batch struct {
	rec   arrow.Record
	n     int
	ts    *array.Uint64
	cpu   *array.Uint32
	pid   *array.Int32
	tid   *array.Int32
	comm  strCol
	probe strCol
	stack *array.Int64 // nil when absent
	// period is the period column (nil when absent): a null row counts one.
	period *array.Uint64
	// src maps the probe column's dictionary index (or row) to a source index.
	srcOf func(i int) int
}

// strCol reads a utf8 column stored plain or dictionary-encoded.
type strCol struct {
	dict *array.Dictionary
	vals *array.String
}

func newStrCol(a arrow.Array) (strCol, bool) {
	switch x := a.(type) {
	case *array.Dictionary:
		s, ok := x.Dictionary().(*array.String)
		return strCol{dict: x, vals: s}, ok
	case *array.String:
		return strCol{vals: x}, true
	}
	return strCol{}, false
}

func (c strCol) valid(i int) bool {
	if c.dict != nil {
		return c.dict.IsValid(i)
	}
	return c.vals.IsValid(i)
}

// index is the dictionary index of row i (the row itself when plain).
func (c strCol) index(i int) int {
	if c.dict != nil {
		return c.dict.GetValueIndex(i)
	}
	return i
}

// value is row i's string; it may alias Arrow memory: clone before keeping.
func (c strCol) value(i int) string {
	if !c.valid(i) {
		return ""
	}
	return c.vals.Value(c.index(i))
}

// newBatch checks the common columns of rec. sources maps source names to
// indexes; names unknown to the header map to -1.
func newBatch(rec arrow.Record, sources map[string]int) (*batch, error) {
	b := &batch{rec: rec, n: int(rec.NumRows())}
	col := func(name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil
		}
		return rec.Column(idx[0])
	}
	var ok bool
	if b.ts, ok = col(replay.ColTS).(*array.Uint64); !ok {
		return nil, fmt.Errorf("replay batch: column %q missing or not uint64", replay.ColTS)
	}
	if b.cpu, ok = col(replay.ColCPU).(*array.Uint32); !ok {
		return nil, fmt.Errorf("replay batch: column %q missing or not uint32", replay.ColCPU)
	}
	if b.pid, ok = col(replay.ColPID).(*array.Int32); !ok {
		return nil, fmt.Errorf("replay batch: column %q missing or not int32", replay.ColPID)
	}
	if b.tid, ok = col(replay.ColTID).(*array.Int32); !ok {
		return nil, fmt.Errorf("replay batch: column %q missing or not int32", replay.ColTID)
	}
	if b.comm, ok = newStrCol(col(replay.ColComm)); !ok {
		return nil, fmt.Errorf("replay batch: column %q missing or not utf8", replay.ColComm)
	}
	if b.probe, ok = newStrCol(col(replay.ColProbe)); !ok {
		return nil, fmt.Errorf("replay batch: column %q missing or not utf8", replay.ColProbe)
	}
	if a := col(replay.ColStackID); a != nil {
		if b.stack, ok = a.(*array.Int64); !ok {
			return nil, fmt.Errorf("replay batch: column %q is not int64", replay.ColStackID)
		}
	}
	if a := col(replay.ColPeriod); a != nil {
		if b.period, ok = a.(*array.Uint64); !ok {
			return nil, fmt.Errorf("replay batch: column %q is not uint64", replay.ColPeriod)
		}
	}
	// Resolve each dictionary entry once per batch.
	if b.probe.dict != nil {
		d := b.probe.vals
		m := make([]int, d.Len())
		for i := range m {
			m[i] = -1
			if d.IsValid(i) {
				if s, ok := sources[d.Value(i)]; ok {
					m[i] = s
				}
			}
		}
		b.srcOf = func(i int) int {
			if !b.probe.dict.IsValid(i) {
				return -1
			}
			return m[b.probe.dict.GetValueIndex(i)]
		}
	} else {
		b.srcOf = func(i int) int {
			if s, ok := sources[b.probe.value(i)]; ok {
				return s
			}
			return -1
		}
	}
	return b, nil
}

// stackID is row i's stack id, -1 when there is none.
func (b *batch) stackID(i int) int64 {
	if b.stack == nil || b.stack.IsNull(i) {
		return -1
	}
	return b.stack.Value(i)
}

// weight is the number of events row i stands for: its period, or 1.
func (b *batch) weight(i int) uint64 {
	if b.period != nil && b.period.IsValid(i) {
		return b.period.Value(i)
	}
	return 1
}

// commonColumns are not event fields.
var commonColumns = map[string]bool{
	replay.ColTS: true, replay.ColCPU: true, replay.ColPID: true, replay.ColTID: true,
	replay.ColComm: true, replay.ColProbe: true, replay.ColStackID: true, replay.ColPeriod: true,
}

// valueString formats row i of any field column; ok is false for nulls.
func valueString(a arrow.Array, i int) (string, bool) {
	if a.IsNull(i) {
		return "", false
	}
	switch x := a.(type) {
	case *array.String:
		return x.Value(i), true
	case *array.LargeString:
		return x.Value(i), true
	case *array.Dictionary:
		if s, ok := x.Dictionary().(*array.String); ok {
			return s.Value(x.GetValueIndex(i)), true
		}
	case *array.Uint8:
		return strconv.FormatUint(uint64(x.Value(i)), 10), true
	case *array.Uint16:
		return strconv.FormatUint(uint64(x.Value(i)), 10), true
	case *array.Uint32:
		return strconv.FormatUint(uint64(x.Value(i)), 10), true
	case *array.Uint64:
		return strconv.FormatUint(x.Value(i), 10), true
	case *array.Int8:
		return strconv.FormatInt(int64(x.Value(i)), 10), true
	case *array.Int16:
		return strconv.FormatInt(int64(x.Value(i)), 10), true
	case *array.Int32:
		return strconv.FormatInt(int64(x.Value(i)), 10), true
	case *array.Int64:
		return strconv.FormatInt(x.Value(i), 10), true
	case *array.Binary:
		return hex.EncodeToString(x.Value(i)), true
	}
	return a.ValueStr(i), true
}

// interner keeps one copy of each string that outlives a batch.
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	c := string([]byte(s))
	in[c] = c
	return c
}

// sourceIndex maps source names to header indexes.
func sourceIndex(f *format.File) map[string]int {
	m := make(map[string]int, len(f.Header.Sources))
	for i, s := range f.Header.Sources {
		if _, dup := m[s.Name]; !dup {
			m[s.Name] = i
		}
	}
	return m
}

// accumulator is one analysis fed batch by batch.
type accumulator interface {
	begin(in Input) error
	add(b *batch) error
	finish(in Input) error
}

// run streams in through every accumulator, once.
func run(in Input, accs ...accumulator) error {
	f := in.File()
	if f == nil {
		return fmt.Errorf("replay reader has no file")
	}
	for _, a := range accs {
		if err := a.begin(in); err != nil {
			return err
		}
	}
	srcs := sourceIndex(f)
	for in.Next() {
		b, err := newBatch(in.Record(), srcs)
		if err != nil {
			return err
		}
		for _, a := range accs {
			if err := a.add(b); err != nil {
				return err
			}
		}
	}
	if err := in.Err(); err != nil {
		return fmt.Errorf("read trace: %w", err)
	}
	for _, a := range accs {
		if err := a.finish(in); err != nil {
			return err
		}
	}
	return nil
}

// inputWarnings are the file's warnings (truncation, corrupt frames) and the
// decoder's (short payloads, order), when the input reports them.
func inputWarnings(in Input) []string {
	out := append([]string(nil), in.File().Warnings...)
	if w, ok := in.(interface{ Warnings() []string }); ok {
		out = append(out, w.Warnings()...)
	}
	return out
}
