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
	f, h, id := ex.f, ex.f.Header, ex.id
	part := "/" + partName(id)

	// stacks: the reader's table with the trace id in front.
	st := ex.r.StacksRecord()
	sb := newRowBuilder(StacksSchema)
	{
		sid := st.Column(0).(*array.Int64)
		depth := st.Column(1).(*array.Int32)
		addr := st.Column(2).(*array.Uint64)
		name := st.Column(3).(*array.String)
		off := st.Column(4).(*array.Uint64)
		mod := st.Column(5).(*array.String)
		kern := st.Column(6).(*array.Boolean)
		for i := 0; i < int(st.NumRows()); i++ {
			sb.add(id, sid.Value(i), depth.Value(i), addr.Value(i), name.Value(i), off.Value(i), mod.Value(i), kern.Value(i))
		}
	}
	st.Release()
	stacks := sb.record()
	defer stacks.Release()

	cb := newRowBuilder(CommsSchema)
	for _, c := range f.Comms {
		cb.add(id, int32(c.PID), int32(c.TID), int64(c.Time), ex.micros(c.Time), c.Comm)
	}
	comms := cb.record()
	defer comms.Release()

	lb := newRowBuilder(LossSchema)
	var ringLost, dropped uint64
	for _, l := range f.Lost {
		var src *string
		if int(l.Source) < len(h.Sources) {
			src = &h.Sources[l.Source].Name
		}
		var cpu any = int32(l.CPU)
		if l.CPU == ^uint32(0) {
			cpu = nil
		}
		ringLost += l.Count
		lb.addLoss(id, int64(l.Time), ex.micros(l.Time), cpu, src, int64(l.Count))
	}
	loss := lb.record()
	defer loss.Release()

	srb := newRowBuilder(SourcesSchema)
	var recorded uint64
	stats := map[uint32][2]uint64{}
	for _, s := range f.Stats {
		stats[s.Source] = [2]uint64{s.Received, s.Dropped}
		recorded += s.Received
		dropped += s.Dropped
	}
	for i, s := range h.Sources {
		info := ex.r.Sources()[i]
		type ft struct {
			Field  string `json:"field"`
			Column string `json:"column"`
			Type   string `json:"type"`   // the dataset column's Arrow type
			Kernel string `json:"kernel"` // the type the kernel's format file gives
		}
		var fts []ft
		var partDir *string
		var errStr *string
		if info.Err != nil {
			e := info.Err.Error()
			errStr = &e
		} else {
			fields, cols := ex.fieldColumns(i)
			for k, fl := range fields {
				name := strings.TrimPrefix(fl.Name, FieldPrefix)
				if !reserved[name] {
					name = fl.Name
				}
				fts = append(fts, ft{name, fl.Name, fl.Type.String(), ex.r.Schema().Field(cols[k]).Type.String()})
			}
			if ex.outs[i] != nil {
				d := eventsDir(h.Host.Kernel, h.Host.Hostname, s.Name)
				partDir = &d
			}
		}
		if fts == nil {
			fts = []ft{}
		}
		c := stats[uint32(i)]
		srb.add(id, int32(i), s.Name, s.Kind.String(), s.Definition, s.Filter, s.Target, s.Format,
			jsonString(fts), ex.counts[i], int64(c[0]), int64(c[1]), partDir, errStr)
	}
	sources := srb.record()
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

	start, end := replay.TraceStart(f), uint64(0)
	for _, fr := range f.Frames {
		if fr.Samples > 0 {
			end = max(end, fr.LastNS)
		}
	}
	for _, s := range f.Stats {
		end = max(end, s.EndNS)
	}
	var frames, bytes int64
	for _, fr := range f.Frames {
		frames++
		bytes += fr.CSize
	}
	dur := int64(0)
	if end > start {
		dur = int64(end - start)
	}
	if warnings == nil {
		warnings = []string{}
	}
	notes := h.Notes
	if notes == nil {
		notes = []string{}
	}
	args := h.Capture.Args
	if args == nil {
		args = []string{}
	}
	extra := h.Capture.Extra
	if extra == nil {
		extra = map[string]string{}
	}
	tb := newRowBuilder(TracesSchema)
	tb.add(id, file, h.Host.Hostname, h.Host.Kernel, h.Host.Version, h.Host.Machine, h.Host.OS,
		int32(h.Host.CPUs), int32(h.Host.PageSize), h.Application,
		fmt.Sprintf("%d.%d", h.FormatVersion[0], h.FormatVersion[1]), h.Capture.Clock, h.Host.WallOffsetNS,
		int64(start), int64(end), ex.micros(start), ex.micros(end), dur,
		ex.total, int64(recorded), int64(max(ringLost, dropped)), int64(ringLost), int64(dropped),
		int32(len(h.Sources)), int64(ex.r.StackCount()), frames, bytes,
		jsonString(args), h.Capture.Targets, h.Capture.CallGraph, int64(h.Capture.BufferSize),
		jsonString(extra), jsonString(notes), jsonString(warnings), int32(Version), ex.exportedBy)
	traces := tb.record()
	defer traces.Release()
	return ex.tx.writeTable(TableTraces+part, TracesSchema, traces)
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
