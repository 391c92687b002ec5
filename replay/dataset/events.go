package dataset

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// traceExport writes one trace's files.
type traceExport struct {
	dir      string
	id       string
	f        *format.File
	r        *replay.Reader
	tx       *commit
	progress *atomic.Int64

	idDict arrow.Array // the one-entry dictionary of the trace_id column
	outs   []*sourceOut
	total  int64
	counts []int64 // events written per source
}

// sourceOut is the events file of one source, written by its own goroutine
// so that sources encode in parallel.
type sourceOut struct {
	rel    string // dataset path of the file
	schema *arrow.Schema
	// cols maps each output column after the common ones to its column in
	// the reader's batches.
	cols  []int
	types []arrow.DataType
	tx    *commit
	recs  chan arrow.Record
	err   error
	done  chan struct{}
	file  *os.File
	pw    *replay.ParquetWriter
}

func newTraceExport(dir, id string, f *format.File, r *replay.Reader, tx *commit, progress *atomic.Int64) *traceExport {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.Append(id)
	ex := &traceExport{dir: dir, id: id, f: f, r: r, tx: tx, progress: progress, idDict: b.NewArray()}
	ex.outs = make([]*sourceOut, len(f.Header.Sources))
	ex.counts = make([]int64, len(f.Header.Sources))
	return ex
}

// columnType is the dataset type of an event field of reader type t: every
// integer is int64, so that a field keeps one type whatever width and
// signedness a kernel's format file gives it (6.1 says u64 for a
// kretprobe's $retval, 6.12 s64) and every engine reads it (Spark, Trino and
// BigQuery have no unsigned 64-bit integer). Strings stay utf8, other arrays
// binary.
func columnType(t arrow.DataType) arrow.DataType {
	if arrow.IsInteger(t.ID()) {
		return i64
	}
	return t
}

// fieldColumns lists the output columns of source i's event fields, in the
// reader's column order.
func (ex *traceExport) fieldColumns(i int) (fields []arrow.Field, cols []int) {
	info := ex.r.Sources()[i]
	sc := ex.r.Schema()
	byCol := map[int]string{}
	for name, c := range info.Fields {
		byCol[c] = name
	}
	for c := 0; c < sc.NumFields(); c++ {
		name, ok := byCol[c]
		if !ok {
			continue
		}
		fields = append(fields, arrow.Field{Name: FieldColumn(name), Type: columnType(sc.Field(c).Type), Nullable: true})
		cols = append(cols, c)
	}
	return fields, cols
}

// out returns source i's writer, starting it on first use.
func (ex *traceExport) out(i int) (*sourceOut, error) {
	if o := ex.outs[i]; o != nil {
		return o, o.err
	}
	h := ex.f.Header
	fields, cols := ex.fieldColumns(i)
	o := &sourceOut{
		rel:    eventsDir(h.Host.Kernel, h.Host.Hostname, h.Sources[i].Name) + "/" + partName(ex.id),
		schema: arrow.NewSchema(append(append([]arrow.Field(nil), eventsCommon...), fields...), nil),
		cols:   cols,
		tx:     ex.tx,
		recs:   make(chan arrow.Record, 2),
		done:   make(chan struct{}),
	}
	for _, f := range fields {
		o.types = append(o.types, f.Type)
	}
	ex.outs[i] = o
	f, err := ex.tx.create(o.rel)
	if err != nil {
		o.err = err
		close(o.done)
		return o, err
	}
	o.file = f
	if o.pw, err = replay.NewParquetWriter(o.schema, f, ColTime); err != nil {
		o.err = err
		f.Close()
		close(o.done)
		return o, err
	}
	go o.loop()
	return o, nil
}

func (o *sourceOut) loop() {
	defer close(o.done)
	for rec := range o.recs {
		if o.err == nil {
			if err := o.pw.Write(rec); err != nil {
				o.err = fmt.Errorf("%s: %w", o.rel, err)
			}
		}
		rec.Release()
	}
	if err := o.pw.Close(); err != nil && o.err == nil {
		o.err = fmt.Errorf("%s: %w", o.rel, err)
	}
	if err := o.tx.close(o.file); err != nil && o.err == nil {
		o.err = err
	}
}

// events reads every batch, splits it by source and hands each part to its
// source's writer.
func (ex *traceExport) events() (err error) {
	defer func() {
		for _, o := range ex.outs {
			if o == nil || o.pw == nil {
				continue
			}
			close(o.recs)
			<-o.done
			if err == nil && o.err != nil {
				err = o.err
			}
		}
	}()
	nsrc := len(ex.f.Header.Sources)
	rows := make([][]int32, nsrc)
	wall := ex.f.Header.Host.WallOffsetNS
	for ex.r.Next() {
		rec := ex.r.Record()
		probe, ok := rec.Column(5).(*array.Dictionary)
		if !ok || rec.Schema().Field(5).Name != replay.ColProbe {
			return fmt.Errorf("replay batch: no probe dictionary column")
		}
		for i := range rows {
			rows[i] = rows[i][:0]
		}
		n := int(rec.NumRows())
		single := -1
		for i := 0; i < n; i++ {
			s := probe.GetValueIndex(i)
			if s < 0 || s >= nsrc {
				continue
			}
			rows[s] = append(rows[s], int32(i))
		}
		for s := range rows {
			if len(rows[s]) == n {
				single = s
			}
		}
		for s, idx := range rows {
			if len(idx) == 0 {
				continue
			}
			if s == single {
				idx = nil // every row: a plain copy
			}
			o, err := ex.out(s)
			if err != nil {
				return err
			}
			part, err := ex.part(rec, o, idx, wall)
			if err != nil {
				return err
			}
			select {
			case o.recs <- part:
			case <-o.done:
				part.Release()
				return o.err
			}
			k := part.NumRows()
			ex.counts[s] += k
			ex.total += k
			if ex.progress != nil {
				ex.progress.Add(k)
			}
		}
	}
	return ex.r.Err()
}

// part builds the events record of source o from rows idx of rec.
func (ex *traceExport) part(rec arrow.Record, o *sourceOut, idx []int32, wall int64) (arrow.Record, error) {
	n := int(rec.NumRows())
	if idx != nil {
		n = len(idx)
	}
	cols := make([]arrow.Array, 0, o.schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	// trace_id: every row index 0 of a one-entry dictionary.
	zeros := make([]int32, n)
	ind := build(i32, n, 0, nil, memory.NewBufferBytes(i32Bytes(zeros)))
	cols = append(cols, array.NewDictionaryArray(strDict, ind, ex.idDict))
	ind.Release()
	ts, err := take(rec.Column(0), i64, idx)
	if err != nil {
		return nil, err
	}
	cols = append(cols, ts)
	cols = append(cols, wallTime(ts.(*array.Int64).Int64Values(), wall))
	for _, c := range []struct {
		col int
		t   arrow.DataType
	}{{1, i32}, {2, i32}, {3, i32}, {4, strDict}, {6, i64}} {
		a, err := take(rec.Column(c.col), c.t, idx)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", rec.Schema().Field(c.col).Name, err)
		}
		cols = append(cols, a)
	}
	for k, c := range o.cols {
		var a arrow.Array
		var err error
		if o.types[k].ID() == arrow.INT64 {
			a, err = takeInt64(rec.Column(c), idx)
		} else {
			a, err = take(rec.Column(c), o.types[k], idx)
		}
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", rec.Schema().Field(c).Name, err)
		}
		cols = append(cols, a)
	}
	return array.NewRecord(o.schema, cols, int64(n)), nil
}

// wallTime converts capture-clock ns to UTC microseconds; all null when the
// trace has no wall-clock offset.
func wallTime(ts []int64, wall int64) arrow.Array {
	n := len(ts)
	if wall == 0 {
		return array.MakeArrayOfNull(memory.DefaultAllocator, tsType, n)
	}
	out := make([]int64, n)
	for i, t := range ts {
		out[i] = (t + wall) / 1000
	}
	return build(tsType, n, 0, nil, memory.NewBufferBytes(asBytes(out)))
}
