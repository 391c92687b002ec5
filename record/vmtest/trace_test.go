//go:build linux

package vmtest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// traceRow is one decoded sample, as kpcap's replay returns it.
type traceRow struct {
	TS       uint64
	PID, TID int64
	Comm     string
	Probe    string
	StackID  int64 // -1 when the sample has no callchain
	Fields   map[string]any
}

// trace is a trace file read back on the host with kpcap's own readers: the
// format package for metadata and raw samples, replay for decoded fields.
type trace struct {
	File    *format.File
	Rows    []traceRow
	Stacks  map[int64][]replay.Frame
	Samples []format.Sample // raw samples (Raw dropped, Callchain copied)
}

// readTrace opens path with format.Open and replays it, failing the test on
// any error or warning.
func readTrace(t *testing.T, path string) *trace {
	t.Helper()
	return readTraceWith(t, path, true)
}

// readTraceWith is readTrace; reader warnings fail the test only if strict.
func readTraceWith(t *testing.T, path string, strict bool) *trace {
	t.Helper()
	if path == "" {
		t.Fatal("trace file was not returned by the VM")
	}
	f, err := format.Open(path)
	if err != nil {
		t.Fatalf("format.Open(%s): %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	if strict && len(f.Warnings) > 0 {
		t.Errorf("%s: reader warnings: %v", path, f.Warnings)
	}
	tr := &trace{File: f, Stacks: map[int64][]replay.Frame{}}
	it := f.Samples()
	for it.Next() {
		s := *it.Sample()
		s.Raw = nil
		s.Callchain = append([]uint64(nil), s.Callchain...)
		tr.Samples = append(tr.Samples, s)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("%s: samples: %v", path, err)
	}

	r, err := replay.Open(path, replay.Options{})
	if err != nil {
		t.Fatalf("replay.Open(%s): %v", path, err)
	}
	defer r.Close()
	for r.Next() {
		rec := r.Record()
		cols := rec.Schema().Fields()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := traceRow{StackID: -1, Fields: map[string]any{}}
			for c, fld := range cols {
				v := cellValue(rec.Column(c), i)
				switch fld.Name {
				case replay.ColTS:
					row.TS, _ = v.(uint64)
				case replay.ColCPU:
				case replay.ColPID:
					row.PID, _ = asInt(v)
				case replay.ColTID:
					row.TID, _ = asInt(v)
				case replay.ColComm:
					row.Comm, _ = v.(string)
				case replay.ColProbe:
					row.Probe, _ = v.(string)
				case replay.ColStackID:
					if id, ok := asInt(v); ok {
						row.StackID = id
						if _, seen := tr.Stacks[id]; !seen {
							tr.Stacks[id] = r.Stack(id)
						}
					}
				default:
					if v != nil {
						// Clashing names are "SOURCE.field": index by the bare name too.
						row.Fields[fld.Name] = v
						if _, bare, ok := strings.Cut(fld.Name, "."); ok {
							row.Fields[bare] = v
						}
					}
				}
			}
			tr.Rows = append(tr.Rows, row)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: replay: %v", path, err)
	}
	sort.SliceStable(tr.Rows, func(a, b int) bool { return tr.Rows[a].TS < tr.Rows[b].TS })
	if len(tr.Rows) != len(tr.Samples) {
		t.Errorf("%s: replay returned %d rows, the format reader %d samples", path, len(tr.Rows), len(tr.Samples))
	}
	return tr
}

// cellValue returns row i of an Arrow column as uint64, int64, string,
// []byte or nil.
func cellValue(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch c := col.(type) {
	case *array.Uint64:
		return c.Value(i)
	case *array.Uint32:
		return uint64(c.Value(i))
	case *array.Uint16:
		return uint64(c.Value(i))
	case *array.Uint8:
		return uint64(c.Value(i))
	case *array.Int64:
		return c.Value(i)
	case *array.Int32:
		return int64(c.Value(i))
	case *array.Int16:
		return int64(c.Value(i))
	case *array.Int8:
		return int64(c.Value(i))
	case *array.String:
		return c.Value(i)
	case *array.LargeString:
		return c.Value(i)
	case *array.Binary:
		return append([]byte(nil), c.Value(i)...)
	case *array.Dictionary:
		return cellValue(c.Dictionary(), c.GetValueIndex(i))
	}
	return col.ValueStr(i)
}

// asInt converts an integer cell to int64 (u64 values are reinterpreted, so
// a $retval of -ENOENT reads -2 whether the kernel declares it signed or not).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true
	}
	return 0, false
}

// source returns the header source named name.
func (tr *trace) source(t *testing.T, name string) (uint32, format.Source) {
	t.Helper()
	for i, s := range tr.File.Header.Sources {
		if s.Name == name {
			return uint32(i), s
		}
	}
	var names []string
	for _, s := range tr.File.Header.Sources {
		names = append(names, s.Name)
	}
	t.Fatalf("no source %q in the trace (sources: %v)", name, names)
	return 0, format.Source{}
}

// rows returns the rows of probe (and of comm, unless comm is "").
func (tr *trace) rows(probe, comm string) []traceRow {
	var out []traceRow
	for _, r := range tr.Rows {
		if r.Probe == probe && (comm == "" || r.Comm == comm) {
			out = append(out, r)
		}
	}
	return out
}

// pairReturns maps every entry row of entry to the value of retField of the
// next row of ret on the same thread, by entry filename.
func (tr *trace) pairReturns(entry, ret, retField string) (byName map[string][]int64, unpaired []string) {
	byName = map[string][]int64{}
	pending := map[int64]string{} // tid -> filename of its open call
	for _, r := range tr.Rows {
		switch r.Probe {
		case entry:
			fn, _ := r.Fields["filename"].(string)
			if prev, ok := pending[r.TID]; ok {
				unpaired = append(unpaired, prev)
			}
			pending[r.TID] = fn
		case ret:
			fn, ok := pending[r.TID]
			if !ok {
				continue // the call began before the capture
			}
			delete(pending, r.TID)
			v, _ := asInt(r.Fields[retField])
			byName[fn] = append(byName[fn], v)
		}
	}
	for _, fn := range pending {
		unpaired = append(unpaired, fn)
	}
	return byName, unpaired
}

// checkNoLoss asserts that the trace reports no lost samples at all.
func (tr *trace) checkNoLoss(t *testing.T) {
	t.Helper()
	for _, st := range tr.File.Stats {
		if st.Dropped != 0 {
			t.Errorf("source %d (%s): %d samples lost", st.Source, tr.File.Header.Sources[st.Source].Name, st.Dropped)
		}
	}
	for _, l := range tr.File.Lost {
		t.Errorf("loss record: %+v", l)
	}
	// The ISB counts must match what is in the file.
	got := map[uint32]uint64{}
	for _, s := range tr.Samples {
		got[s.Source]++
	}
	for _, st := range tr.File.Stats {
		if st.Received != got[st.Source] {
			t.Errorf("source %s: stats say %d received, file holds %d", tr.File.Header.Sources[st.Source].Name, st.Received, got[st.Source])
		}
	}
}

// kernelFrames symbolizes the kernel part of a callchain with the symbols
// stored in the file, skipping context markers.
func kernelFrames(f *format.File, chain []uint64) []string {
	var names []string
	for _, ip := range chain {
		if ip >= ^uint64(0)-4095 {
			continue
		}
		if name, _, ok := f.KernelSymbol(ip); ok {
			names = append(names, name)
		} else {
			names = append(names, fmt.Sprintf("[%#x]", ip))
		}
	}
	return names
}

// checkStacks asserts that samples of source with callchains symbolize, from
// the file alone, through every function of want (at least min samples).
func (tr *trace) checkStacks(t *testing.T, source string, min int, want ...string) {
	t.Helper()
	id, _ := tr.source(t, source)
	n := 0
	for _, s := range tr.Samples {
		if s.Source != id {
			continue
		}
		frames := kernelFrames(tr.File, s.Callchain)
		for _, w := range want {
			if !contains(frames, w) {
				t.Errorf("%s stack %v lacks %s (raw %x)", source, frames, w, s.Callchain)
				return
			}
		}
		n++
	}
	if n < min {
		t.Errorf("%s: %d samples with stacks, want at least %d", source, n, min)
	}
	// The same through replay's symbolized stacks.
	for _, r := range tr.Rows {
		if r.Probe != source {
			continue
		}
		if r.StackID < 0 {
			t.Errorf("%s row at %d has no stack id", source, r.TS)
			return
		}
		var names []string
		for _, fr := range tr.Stacks[r.StackID] {
			names = append(names, fr.Name)
		}
		for _, w := range want {
			if !contains(names, w) {
				t.Errorf("replay stack %d of %s: %v lacks %s", r.StackID, source, names, w)
				return
			}
		}
	}
}

// logLine returns the text after "PREFIX: " in a job log, or fails.
func logLine(t *testing.T, j *JobResult, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(j.Log, "\n") {
		if v, ok := strings.CutPrefix(l, prefix+": "); ok {
			return v
		}
	}
	t.Fatalf("job %s log has no %q line:\n%s", j.Name, prefix, j.Log)
	return ""
}

// expectLog asserts that "PREFIX: want" is in the job log.
func expectLog(t *testing.T, j *JobResult, prefix, want string) {
	t.Helper()
	if got := logLine(t, j, prefix); got != want {
		t.Errorf("%s: %q, want %q; job log:\n%s", prefix, got, want, j.Log)
	}
}
