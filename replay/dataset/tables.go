package dataset

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/kpcap/kpcap/replay"
)

// rowBuilder appends rows to a record builder by column, with the Go
// values the table schemas use.
type rowBuilder struct {
	b *array.RecordBuilder
}

func newRowBuilder(sc *arrow.Schema) *rowBuilder {
	return &rowBuilder{b: array.NewRecordBuilder(memory.DefaultAllocator, sc)}
}

// add appends one row; values are string, *string (nil = null), int32,
// int64, uint64, bool, or *int64 as microseconds (nil = null) for timestamps.
func (r *rowBuilder) add(vals ...any) {
	for i, v := range vals {
		switch b := r.b.Field(i).(type) {
		case *array.StringBuilder:
			switch x := v.(type) {
			case string:
				b.Append(strings.ToValidUTF8(x, "\uFFFD"))
			case *string:
				if x == nil {
					b.AppendNull()
				} else {
					b.Append(strings.ToValidUTF8(*x, "\uFFFD"))
				}
			}
		case *array.Int32Builder:
			b.Append(v.(int32))
		case *array.Int64Builder:
			b.Append(v.(int64))
		case *array.Uint64Builder:
			b.Append(v.(uint64))
		case *array.BooleanBuilder:
			b.Append(v.(bool))
		case *array.TimestampBuilder:
			if x := v.(*int64); x == nil {
				b.AppendNull()
			} else {
				b.Append(arrow.Timestamp(*x))
			}
		default:
			panic(fmt.Sprintf("dataset: no builder case for column %d", i))
		}
	}
}

func (r *rowBuilder) record() arrow.Record {
	defer r.b.Release()
	return r.b.NewRecord()
}

// micros converts a capture-clock time to UTC microseconds (nil when the
// trace has no wall-clock offset or the time is unknown).
func (ex *traceExport) micros(t uint64) *int64 {
	wall := ex.f.Header.Host.WallOffsetNS
	if wall == 0 || t == 0 {
		return nil
	}
	v := (int64(t) + wall) / 1000
	return &v
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// tables writes the sources, stacks, comms and loss tables and, last, the
// traces row.
func (ex *traceExport) tables(file string, warnings []string) error {
	part := "/" + partName(ex.id)
	stacks := ex.stacksTable()
	defer stacks.Release()
	comms := ex.commsTable()
	defer comms.Release()
	loss, ringLost := ex.lossTable()
	defer loss.Release()
	sources, recorded, dropped := ex.sourcesTable()
	defer sources.Release()
	for _, t := range []struct {
		name string
		sc   *arrow.Schema
		rec  arrow.Record
	}{{TableSources, SourcesSchema, sources}, {TableStacks, StacksSchema, stacks}, {TableComms, CommsSchema, comms}, {TableLoss, LossSchema, loss}} {
		if err := ex.tx.writeTable(t.name+part, t.sc, t.rec); err != nil {
			return err
		}
	}
	traces := ex.tracesRow(file, warnings, recorded, ringLost, dropped)
	defer traces.Release()
	return ex.tx.writeTable(TableTraces+part, TracesSchema, traces)
}

// stacksTable is the reader's stacks table with the trace id in front.
func (ex *traceExport) stacksTable() arrow.Record {
	st := ex.r.StacksRecord()
	defer st.Release()
	sb := newRowBuilder(StacksSchema)
	sid := st.Column(0).(*array.Int64)
	depth := st.Column(1).(*array.Int32)
	addr := st.Column(2).(*array.Uint64)
	name := st.Column(3).(*array.String)
	off := st.Column(4).(*array.Uint64)
	mod := st.Column(5).(*array.String)
	kern := st.Column(6).(*array.Boolean)
	for i := 0; i < int(st.NumRows()); i++ {
		sb.add(ex.id, sid.Value(i), depth.Value(i), addr.Value(i), name.Value(i), off.Value(i), mod.Value(i), kern.Value(i))
	}
	return sb.record()
}

// commsTable is the trace's task names.
func (ex *traceExport) commsTable() arrow.Record {
	cb := newRowBuilder(CommsSchema)
	for _, c := range ex.f.Comms {
		cb.add(ex.id, int32(c.PID), int32(c.TID), int64(c.Time), ex.micros(c.Time), c.Comm)
	}
	return cb.record()
}

// lossTable is the trace's loss records, and the samples they lost.
func (ex *traceExport) lossTable() (rec arrow.Record, ringLost uint64) {
	h := ex.f.Header
	lb := newRowBuilder(LossSchema)
	for _, l := range ex.f.Lost {
		var src *string
		if int(l.Source) < len(h.Sources) {
			src = &h.Sources[l.Source].Name
		}
		var cpu any = int32(l.CPU)
		if l.CPU == ^uint32(0) {
			cpu = nil
		}
		ringLost += l.Count
		lb.addLoss(ex.id, int64(l.Time), ex.micros(l.Time), cpu, src, int64(l.Count))
	}
	return lb.record(), ringLost
}

// sourceFieldType is one entry of the sources table's field_types: an
// event field, its column and their types.
type sourceFieldType struct {
	Field  string `json:"field"`
	Column string `json:"column"`
	Type   string `json:"type"`   // the dataset column's Arrow type
	Kernel string `json:"kernel"` // the type the kernel's format file gives
}

// sourcesTable is one row per source of the trace, and the samples the
// file's statistics say were recorded and dropped.
func (ex *traceExport) sourcesTable() (rec arrow.Record, recorded, dropped uint64) {
	h := ex.f.Header
	srb := newRowBuilder(SourcesSchema)
	stats := map[uint32][2]uint64{}
	for _, s := range ex.f.Stats {
		stats[s.Source] = [2]uint64{s.Received, s.Dropped}
		recorded += s.Received
		dropped += s.Dropped
	}
	for i, s := range h.Sources {
		fts, partDir, errStr := ex.sourceColumns(i)
		c := stats[uint32(i)]
		srb.add(ex.id, int32(i), s.Name, s.Kind.String(), s.Definition, s.Filter, s.Target, s.Format,
			jsonString(fts), ex.counts[i], int64(c[0]), int64(c[1]), partDir, errStr)
	}
	return srb.record(), recorded, dropped
}

// sourceColumns describes source i's columns: its fields' types, its
// events directory (nil when it wrote none) and the error that made the
// reader drop it (nil when none did).
func (ex *traceExport) sourceColumns(i int) (fts []sourceFieldType, partDir, errStr *string) {
	h := ex.f.Header
	fts = []sourceFieldType{}
	if err := ex.r.Sources()[i].Err; err != nil {
		e := err.Error()
		return fts, nil, &e
	}
	fields, cols := ex.fieldColumns(i)
	for k, fl := range fields {
		name := strings.TrimPrefix(fl.Name, FieldPrefix)
		if !reserved[name] {
			name = fl.Name
		}
		fts = append(fts, sourceFieldType{name, fl.Name, fl.Type.String(), ex.r.Schema().Field(cols[k]).Type.String()})
	}
	if ex.outs[i] != nil {
		d := eventsDir(h.Host.Kernel, h.Host.Hostname, h.Sources[i].Name)
		partDir = &d
	}
	return fts, partDir, nil
}

// traceSpan returns the trace's first and last sample times.
func (ex *traceExport) traceSpan() (start, end uint64) {
	start = replay.TraceStart(ex.f)
	for _, fr := range ex.f.Frames {
		if fr.Samples > 0 {
			end = max(end, fr.LastNS)
		}
	}
	for _, s := range ex.f.Stats {
		end = max(end, s.EndNS)
	}
	return start, end
}

// orEmpty returns v, or an empty list (JSON [], not null) for nil.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// tracesRow is the trace's row of the traces table.
func (ex *traceExport) tracesRow(file string, warnings []string, recorded, ringLost, dropped uint64) arrow.Record {
	h := ex.f.Header
	start, end := ex.traceSpan()
	var frames, bytes int64
	for _, fr := range ex.f.Frames {
		frames++
		bytes += fr.CSize
	}
	dur := int64(0)
	if end > start {
		dur = int64(end - start)
	}
	extra := h.Capture.Extra
	if extra == nil {
		extra = map[string]string{}
	}
	tb := newRowBuilder(TracesSchema)
	tb.add(ex.id, file, h.Host.Hostname, h.Host.Kernel, h.Host.Version, h.Host.Machine, h.Host.OS,
		int32(h.Host.CPUs), int32(h.Host.PageSize), h.Application,
		fmt.Sprintf("%d.%d", h.FormatVersion[0], h.FormatVersion[1]), h.Capture.Clock, h.Host.WallOffsetNS,
		int64(start), int64(end), ex.micros(start), ex.micros(end), dur,
		ex.total, int64(recorded), int64(max(ringLost, dropped)), int64(ringLost), int64(dropped),
		int32(len(h.Sources)), int64(ex.r.StackCount()), frames, bytes,
		jsonString(orEmpty(h.Capture.Args)), h.Capture.Targets, h.Capture.CallGraph, int64(h.Capture.BufferSize),
		jsonString(extra), jsonString(orEmpty(h.Notes)), jsonString(orEmpty(warnings)), int32(Version), ex.exportedBy)
	return tb.record()
}

// addLoss appends a loss row; cpu is an int32 or nil (not tied to a CPU).
func (r *rowBuilder) addLoss(id string, ts int64, t *int64, cpu any, src *string, count int64) {
	r.b.Field(0).(*array.StringBuilder).Append(id)
	r.b.Field(1).(*array.Int64Builder).Append(ts)
	tb := r.b.Field(2).(*array.TimestampBuilder)
	if t == nil {
		tb.AppendNull()
	} else {
		tb.Append(arrow.Timestamp(*t))
	}
	cb := r.b.Field(3).(*array.Int32Builder)
	if c, ok := cpu.(int32); ok {
		cb.Append(c)
	} else {
		cb.AppendNull()
	}
	sb := r.b.Field(4).(*array.StringBuilder)
	if src == nil {
		sb.AppendNull()
	} else {
		sb.Append(*src)
	}
	r.b.Field(5).(*array.Int64Builder).Append(count)
}
