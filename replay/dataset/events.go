package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
	"github.com/kpcap/kpcap/replay/internal/bysource"
	"github.com/kpcap/kpcap/replay/internal/parquetio"
)

// ZstdLevel is the zstd level of the events files, zstd's default 3.
// Level 1 (fastest) made a real 2M-event trace's events files (kprobe
// strings, stacks) 1.57x larger for no CPU gain; on the fleet benchmark's
// syscall traces it was 1% larger and 10% faster.
const ZstdLevel = 3

// Row group bounds: a source's rows are written as a row group once they
// hold groupBytes (the trace's 16 MiB budget shared by its sources, 1 to
// 16 MiB each) or maxGroupRows rows. Each source holds at most two row
// groups, one being gathered and one being written: the buffers hold raw
// column values, so a larger budget only costs memory and page faults.
const (
	traceBufferBytes = 16 << 20
	minGroupBytes    = 1 << 20
	maxGroupBytes    = 16 << 20
	maxGroupRows     = 1 << 20
)

// traceExport writes one trace's files.
type traceExport struct {
	dir      string
	id       string
	f        *format.File
	r        *replay.Reader // opened again when the by-source pass gives up
	workers  int
	tx       *commit
	progress *atomic.Int64
	// exportedBy names the writer in the traces table (Options.ExportedBy).
	exportedBy string

	groupBytes int
	outs       []*sourceOut
	received   []int64 // events per source by the trace's statistics: a size hint
	total      int64
	counts     []int64 // events written per source
}

func newTraceExport(dir, id string, f *format.File, r *replay.Reader, tx *commit, progress *atomic.Int64) *traceExport {
	ex := &traceExport{dir: dir, id: id, f: f, r: r, tx: tx, progress: progress}
	n := len(f.Header.Sources)
	ex.outs = make([]*sourceOut, n)
	ex.counts = make([]int64, n)
	ex.groupBytes = min(max(traceBufferBytes/max(n, 1), minGroupBytes), maxGroupBytes)
	ex.received = make([]int64, n)
	for _, st := range f.Stats {
		if int(st.Source) < n {
			ex.received[st.Source] += int64(min(st.Received, 1<<40))
		}
	}
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

// commonSpecs say where the common columns come from, in eventsCommon's
// order: trace_id, ts, time, cpu, pid, tid, comm, stack_id, sample_period.
var commonSpecs = []colSpec{
	{kind: kindTraceID, field: -1},
	{kind: kindTS, src: srcTS, field: -1},
	{kind: kindTime, nullable: true, field: -1},
	{kind: kindInt32, src: srcCPU, field: -1},
	{kind: kindInt32, src: srcPID, field: -1},
	{kind: kindInt32, src: srcTID, field: -1},
	{kind: kindComm, src: srcComm, nullable: true, field: -1},
	{kind: kindInt64, src: srcStack, nullable: true, field: -1},
	{kind: kindInt64, src: srcPeriod, nullable: true, field: -1},
}

// out returns source i's writer, starting it on first use.
func (ex *traceExport) out(i int, commDict arrow.Array) (*sourceOut, error) {
	if o := ex.outs[i]; o != nil {
		return o, o.err
	}
	h := ex.f.Header
	fields, cols := ex.fieldColumns(i)
	o := &sourceOut{
		rel:      eventsDir(h.Host.Kernel, h.Host.Hostname, h.Sources[i].Name) + "/" + partName(ex.id),
		schema:   arrow.NewSchema(append(append([]arrow.Field(nil), eventsCommon...), fields...), nil),
		specs:    append([]colSpec(nil), commonSpecs...),
		id:       ex.id,
		wall:     h.Host.WallOffsetNS,
		commDict: commDict, // retained below: the batch's wrapper dies with it
		tx:       ex.tx,
		limit:    ex.groupBytes,
		full:     make(chan *rowGroup),
		free:     make(chan *rowGroup, 1),
		done:     make(chan struct{}),
	}
	for k, f := range fields {
		sp := colSpec{kind: kindBytes, src: cols[k], nullable: true, field: k}
		if f.Type.ID() == arrow.INT64 {
			sp.kind = kindInt64
		}
		o.specs = append(o.specs, sp)
	}
	commDict.Retain()
	o.cur = newRowGroup(o.specs, o.groupRows(ex.received[i]))
	ex.outs[i] = o
	if err := o.open(); err != nil {
		o.err = err
		close(o.done)
		return o, err
	}
	o.running = true
	go o.loop()
	return o, nil
}

// events writes the trace's events by source: straight from the replay
// pass that decodes each frame into per-source columns, or, for a trace
// that pass declines (frames overlapping in time, which the Reader
// merges), from the Reader's batches.
func (ex *traceExport) events() error {
	err := ex.eventsBySource()
	if !errors.Is(err, bysource.ErrUnordered) && !errors.Is(err, bysource.ErrUnsupported) {
		return err
	}
	return ex.eventsBatches()
}

// closeOuts writes each started source's last row group and waits for
// its writer to finish; on err it only stops them.
func (ex *traceExport) closeOuts(err *error) {
	for _, o := range ex.outs {
		if o == nil || !o.running {
			continue
		}
		if *err == nil && o.cur != nil && o.cur.n > 0 {
			*err = o.flush(true)
		}
		close(o.full)
		<-o.done
		if *err == nil && o.err != nil {
			*err = o.err
		}
	}
}

// eventsBySource writes the rows the replay pass decodes, frame by frame.
// When the pass gives up midway, what it wrote is discarded and the
// Reader, which the pass used up, opened again.
func (ex *traceExport) eventsBySource() (err error) {
	err = bysource.Pass(ex.r, ex.workers, func(fr *bysource.Frame) error {
		for s, rows := range fr.Sources {
			if rows == nil || rows.N == 0 {
				continue
			}
			o, err := ex.out(s, fr.CommDict)
			if err != nil {
				return err
			}
			if err := o.addRows(rows); err != nil {
				return err
			}
			ex.counted(s, int64(rows.N))
		}
		return nil
	})
	ex.closeOuts(&err)
	if !errors.Is(err, bysource.ErrUnordered) && !errors.Is(err, bysource.ErrUnsupported) {
		return err
	}
	if rerr := ex.restart(); rerr != nil {
		return rerr
	}
	return err
}

// restart discards what the export wrote of the trace's events and opens
// its Reader again.
func (ex *traceExport) restart() error {
	ex.tx.abort()
	if ex.progress != nil {
		ex.progress.Add(-ex.total)
	}
	ex.total = 0
	clear(ex.counts)
	clear(ex.outs)
	opts := ex.r.Options()
	ex.r.Close()
	r, err := replay.NewReader(ex.f, opts)
	if err != nil {
		return err
	}
	ex.r = r
	return nil
}

// counted adds n events of source s written.
func (ex *traceExport) counted(s int, n int64) {
	ex.counts[s] += n
	ex.total += n
	if ex.progress != nil {
		ex.progress.Add(n)
	}
}

// eventsBatches reads every batch, gathers each source's rows into its
// row group and hands full row groups to the source's writer.
func (ex *traceExport) eventsBatches() (err error) {
	defer ex.closeOuts(&err)
	nsrc := len(ex.f.Header.Sources)
	rows := make([][]int32, nsrc)
	for ex.r.Next() {
		rec := ex.r.Record()
		probe, ok := rec.Column(5).(*array.Dictionary)
		if !ok || rec.Schema().Field(5).Name != replay.ColProbe {
			return fmt.Errorf("replay batch: no probe dictionary column")
		}
		comm, ok := rec.Column(4).(*array.Dictionary)
		if !ok {
			return fmt.Errorf("replay batch: no comm dictionary column")
		}
		for i := range rows {
			rows[i] = rows[i][:0]
		}
		n := int(rec.NumRows())
		for i := 0; i < n; i++ {
			s := probe.GetValueIndex(i)
			if s < 0 || s >= nsrc {
				continue
			}
			rows[s] = append(rows[s], int32(i))
		}
		for s, idx := range rows {
			if len(idx) == 0 {
				continue
			}
			if len(idx) == n {
				idx = nil // every row
			}
			o, err := ex.out(s, comm.Dictionary())
			if err != nil {
				return err
			}
			if err := o.add(rec, comm.Dictionary(), idx); err != nil {
				return err
			}
			k := int64(len(idx))
			if idx == nil {
				k = int64(n)
			}
			ex.counted(s, k)
		}
	}
	return ex.r.Err()
}

// sourceOut is the events file of one source: the caller gathers rows into
// cur, and a goroutine of its own encodes full row groups, so that sources
// encode in parallel with each other and with decoding.
type sourceOut struct {
	rel      string // dataset path of the file
	schema   *arrow.Schema
	specs    []colSpec
	id       string
	wall     int64
	commDict arrow.Array // the reader's comm dictionary, the same in every batch
	tx       *commit
	limit    int // row group bytes

	cur  *rowGroup      // being gathered
	full chan *rowGroup // to the writer
	free chan *rowGroup // written, back for reuse
	done chan struct{}
	err  error // the writer's; read after done or by the gathering side once full is refused
	// running is set once the writer goroutine runs, spare once the
	// second row group exists (the gathering side's).
	running, spare bool

	file *os.File
	bw   *bufio.Writer
	// pc writes the file; commVals is its comm dictionary, commMap the
	// reader's comm indices mapped into it.
	pc       *parquetio.Columns
	commVals []string
	commMap  []int32
	sc       *writeScratch
}

// writeScratch is a source writer's reused buffers, handed on to later
// writers once its file is closed.
type writeScratch struct {
	bw    *bufio.Writer
	times []int64
	def   []int16
	zeros []int32
	idx   []int32
}

var scratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

// groupRows is how many rows to make room for in a row group of a source
// with about events events: all of them, up to a full row group.
func (o *sourceOut) groupRows(events int64) int {
	row := 0 // bytes per row, strings not counted
	for _, sp := range o.specs {
		if sp.nullable {
			row += 2
		}
		switch sp.kind {
		case kindTS, kindInt64:
			row += 8
		case kindInt32, kindComm, kindBytes:
			row += 4
		}
	}
	return int(min(max(events, 1024), int64(o.limit/row)+1, maxGroupRows))
}

// addRows appends one frame's rows of the source and hands the row group
// over when full.
func (o *sourceOut) addRows(rows *bysource.Rows) error {
	if o.cur.n > 0 && o.cur.n+rows.N > maxGroupRows {
		if err := o.flush(false); err != nil {
			return err
		}
	}
	o.cur.appendRows(rows, o.specs)
	if o.cur.n >= maxGroupRows || o.cur.size() >= o.limit {
		return o.flush(false)
	}
	return nil
}

// add gathers rows idx of rec and hands the row group over when full.
func (o *sourceOut) add(rec arrow.Record, commDict arrow.Array, idx []int32) error {
	if !sameArray(commDict, o.commDict) {
		return fmt.Errorf("%s: the replay batches' comm dictionaries differ", o.rel)
	}
	if err := o.cur.gather(rec, o.specs, idx); err != nil {
		return fmt.Errorf("%s: %w", o.rel, err)
	}
	if o.cur.n >= maxGroupRows || o.cur.size() >= o.limit {
		return o.flush(false)
	}
	return nil
}

// flush hands cur to the writer and, unless last, takes the other row
// group back.
func (o *sourceOut) flush(last bool) error {
	select {
	case o.full <- o.cur:
	case <-o.done:
		return o.err
	}
	if last {
		o.cur = nil
		return nil
	}
	if !o.spare {
		// The first row group handed over: the second is made now, as
		// most sources never need it.
		o.spare = true
		o.cur = newRowGroup(o.specs, o.groupRows(maxGroupRows))
		return nil
	}
	select {
	case o.cur = <-o.free:
	case <-o.done:
		return o.err
	}
	return nil
}

func (o *sourceOut) loop() {
	defer close(o.done)
	defer o.commDict.Release()
	for g := range o.full {
		if o.err == nil {
			if err := o.writeGroup(g); err != nil {
				o.err = fmt.Errorf("%s: %w", o.rel, err)
			}
		}
		g.reset()
		select {
		case o.free <- g:
		default:
			g.recycle()
		}
		if o.err != nil {
			o.file.Close() // the commit removes it
			return
		}
	}
	select {
	case g := <-o.free: // the gathering side is done
		g.recycle()
	default:
	}
	if err := o.close(); err != nil && o.err == nil {
		o.err = fmt.Errorf("%s: %w", o.rel, err)
	}
}

// sameArray reports whether a and b hold the same values, at once when
// they share their buffers.
func sameArray(a, b arrow.Array) bool {
	if a == b {
		return true
	}
	da, db := a.Data(), b.Data()
	if da.Len() == db.Len() && da.Offset() == db.Offset() && len(da.Buffers()) == len(db.Buffers()) {
		same := true
		for i, buf := range da.Buffers() {
			if buf != db.Buffers()[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return array.Equal(a, b)
}
