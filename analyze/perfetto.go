package analyze

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/kpcap/kpcap/analyze/latency"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
	"google.golang.org/protobuf/encoding/protowire"
)

// PerfettoOptions choose how a trace becomes a Perfetto trace.
type PerfettoOptions struct {
	// Start and End, when set, pair these sources (names or globs) per
	// thread instead of the automatic entry/return pairs, as
	// LatencyOptions.Start and End do.
	Start, End []string
	// RateBinNS is the width of the events/s counter bins (default 100 ms).
	RateBinNS uint64
}

// PerfettoResult counts what WritePerfetto wrote. Every event is one of: an
// end of a slice of a pair (2 events per slice), a CPU slice (one
// sched:sched_switch each) or an instant, so Events = 2*Slices + CPUSlices +
// Instants.
type PerfettoResult struct {
	Events    int64 `json:"events"`
	Slices    int64 `json:"slices"`     // entry/return pairs, on thread tracks
	CPUSlices int64 `json:"cpu_slices"` // sched:sched_switch, on CPU tracks
	Instants  int64 `json:"instants"`   // every other event, unmatched entries and returns included
	Counters  int64 `json:"counters"`   // counter values (events/s, lost samples)
	// UnmatchedEntries and UnmatchedReturns are the paired sources' events
	// that found no partner (written as instants).
	UnmatchedEntries uint64 `json:"unmatched_entries"`
	UnmatchedReturns uint64 `json:"unmatched_returns"`
	Bytes            int64  `json:"bytes"`
}

// Track uuids: a kind in the top byte, an id below.
const (
	trackProcess uint64 = iota + 1
	trackThread
	trackIdle // tid 0, one per CPU: the idle tasks share the tid
	trackCPU
	trackRate
	trackLost
)

func trackUUID(kind, id uint64) uint64 { return kind<<56 | id&(1<<56-1) }

// pfSeq is the one packet sequence the export writes.
const pfSeq = 1

// Bounds on what the export keeps between events.
const (
	maxInterned    = 1 << 16 // dynamic names (CPU slices, frames) interned; further ones are written inline
	maxHeldPairs   = 1 << 16 // completed pairs held until their thread's outermost call returns
	perfettoFlush  = 1 << 20 // output bytes buffered before a write
	defaultRateBin = 100_000_000
)

type pfField struct {
	col  int
	name uint64 // debug annotation name iid
}

type pfSource struct {
	name      uint64 // event name iid
	fields    []pfField
	role      latency.Role
	fn        int
	sched     bool // sched:sched_switch: a slice on its CPU's track
	nextComm  int
	nextPID   int
	selected  bool
	rateTrack bool
}

// heldPair is a completed pair waiting for its thread's stack to empty, so
// that nested pairs starting at the same nanosecond are written outermost
// first (trace_processor orders equal timestamps by file position).
type heldPair struct {
	start, end uint64
	seq        uint64 // completion order: among equal intervals the later one is outer
	track      uint64
	name       uint64
	entry      []byte // encoded TrackEvent fields of the begin (annotations, callstack)
	exit       []byte // of the end
}

// pfThread is a thread's track: by pid and tid, so that a tid reused by
// another process gets its own track (Perfetto refuses a track whose
// descriptor changes its pid), and the comm index it was last named with.
type pfThread struct {
	uuid uint64
	comm int32
	pid  int32
}

type perfettoWriter struct {
	w   io.Writer
	o   PerfettoOptions
	r   *replay.Reader
	res PerfettoResult
	err error

	out  pbuf // packets not yet written; events are built in place
	tmp  pbuf // entry and held return fields, copied out
	news pbuf // InternedData entries the current packet introduces

	cols  []arrow.Array // the batch's columns
	nulls []bool        // per column: has nulls

	srcs     []pfSource
	rules    *latency.Rules
	pairer   *latency.Pairer
	funcName []uint64 // event name iid per function

	events    map[string]uint64 // event name iids (static and dynamic)
	annots    map[string]uint64 // debug annotation name iids
	nextIID   uint64
	annot     struct{ entry, ret, unmatched uint64 }
	funcs     map[string]uint64 // frame function names, also the frames' iids
	stackSeen []bool
	dynamic   int // dynamic names interned

	comms     []string // the comm dictionary, by index (from the batches)
	threads   map[int32]pfThread
	processes map[int32]int32 // pid -> comm index
	idle      map[uint32]bool
	cpuOpen   map[uint32]bool

	held      map[uint64][]heldPair // by thread key (latency.Key.N; the export pairs per thread only)
	heldCount int
	seq       uint64

	slab []byte // backs kept entry and return fields: one allocation per 16 KiB, not per event

	last struct { // the previous event's task, whose track is known
		ok       bool
		pid, tid int32
		ci       int32
		uuid     uint64
	}

	binNS   uint64
	bin     uint64 // index of the current events/s bin
	binSeen bool
	counts  []int64
	lost    []format.Lost
	lostSum map[uint32]int64
	lastTS  uint64
}

// WritePerfetto writes the remaining events of r to w as a Perfetto protobuf
// trace (TracePackets on one sequence, names interned): one track per process
// and thread named from the trace's comms; entry/return pairs as slices
// named by function on the thread's track (paired as MeasureLatency pairs
// them), with the entry's and the return's fields as "entry" and "return"
// debug annotations; sched:sched_switch as slices of the task that ran on
// per-CPU tracks; every other event (and every unmatched entry or return) as
// an instant with its fields; callstacks interned; counter tracks of
// events/s per source and lost samples per CPU. Timestamps are on the
// capture clock, declared by a ClockSnapshot as the trace's clock.
func WritePerfetto(r *replay.Reader, w io.Writer, o PerfettoOptions) (*PerfettoResult, error) {
	if o.RateBinNS == 0 {
		o.RateBinNS = defaultRateBin
	}
	pw := &perfettoWriter{w: w, o: o, r: r, events: map[string]uint64{}, annots: map[string]uint64{}, funcs: map[string]uint64{},
		threads: map[int32]pfThread{}, processes: map[int32]int32{}, idle: map[uint32]bool{},
		cpuOpen: map[uint32]bool{}, held: map[uint64][]heldPair{}, lostSum: map[uint32]int64{},
		binNS: o.RateBinNS}
	if err := pw.begin(); err != nil {
		return nil, err
	}
	srcIdx := sourceIndex(r.File())
	for pw.err == nil && r.Next() {
		b, err := newBatch(r.Record(), srcIdx)
		if err != nil {
			return &pw.res, err
		}
		pw.batch(b)
	}
	if pw.err != nil {
		return &pw.res, pw.err
	}
	if err := r.Err(); err != nil {
		return &pw.res, fmt.Errorf("read trace: %w", err)
	}
	pw.finish()
	return &pw.res, pw.err
}

// clockID maps the file's capture clock to Perfetto's BuiltinClock.
func clockID(name string) (uint64, error) {
	switch name {
	case "", "monotonic":
		return pfClockMonotonic, nil
	case "monotonic_raw":
		return pfClockMonotonicRaw, nil
	case "boottime":
		return pfClockBoottime, nil
	case "realtime":
		return pfClockRealtime, nil
	}
	return 0, fmt.Errorf("perfetto: the trace's clock %q has no Perfetto builtin clock", name)
}

// intern returns the iid of an event or annotation name, adding its entry to
// news (InternedData field table) when new. Event and annotation names have
// separate tables but share one iid counter, which Perfetto allows.
func (pw *perfettoWriter) intern(table protowire.Number, name string) uint64 {
	m := pw.events
	if table == pfInternAnnotationNames {
		m = pw.annots
	}
	if id, ok := m[name]; ok {
		return id
	}
	pw.nextIID++
	id := pw.nextIID
	m[name] = id
	pw.news.begin(table)
	pw.news.varint(pfIIDIID, id)
	pw.news.str(pfIIDName, name)
	pw.news.end()
	return id
}

func (pw *perfettoWriter) begin() error {
	f := pw.r.File()
	clk, err := clockID(f.Header.Capture.Clock)
	if err != nil {
		return err
	}
	srcs := f.Header.Sources
	if err := pw.pairRules(srcs); err != nil {
		return err
	}
	pw.pairer = latency.NewPairer(len(pw.rules.Funcs))
	pw.pairer.OnUnmatched = pw.unmatchedEntry
	pw.internNames(srcs)
	pw.firstPacket(f, clk)
	since, until := pw.r.Options().Since, pw.r.Options().Until
	pw.lost = slices.DeleteFunc(slices.Clone(f.Lost), func(l format.Lost) bool {
		return l.Time < since || until != 0 && l.Time >= until
	})
	slices.SortStableFunc(pw.lost, func(a, b format.Lost) int { return cmp.Compare(a.Time, b.Time) })
	return nil
}

// pairRules sets the pairing rules: the explicit start and end sources,
// or the automatic entry/return pairs.
func (pw *perfettoWriter) pairRules(srcs []format.Source) error {
	if len(pw.o.Start) > 0 || len(pw.o.End) > 0 {
		if len(pw.o.Start) == 0 || len(pw.o.End) == 0 {
			return fmt.Errorf("explicit pairs need both a start and an end source")
		}
		st, err := matchSources(srcs, pw.o.Start)
		if err != nil {
			return fmt.Errorf("start: %w", err)
		}
		en, err := matchSources(srcs, pw.o.End)
		if err != nil {
			return fmt.Errorf("end: %w", err)
		}
		pw.rules = latency.ExplicitRules(len(srcs), st, en, srcs[st[0]].Name+" → "+srcs[en[0]].Name)
	} else {
		pw.rules = latency.AutoRules(srcs)
	}
	return nil
}

// internNames interns every static name for the first packet's interned
// data, and notes each selected source's fields.
func (pw *perfettoWriter) internNames(srcs []format.Source) {
	for _, name := range pw.rules.Funcs {
		pw.funcName = append(pw.funcName, pw.intern(pfInternEventNames, name))
	}
	pw.annot.entry = pw.intern(pfInternAnnotationNames, "entry")
	pw.annot.ret = pw.intern(pfInternAnnotationNames, "return")
	pw.annot.unmatched = pw.intern(pfInternAnnotationNames, "unmatched")
	infos := pw.r.Sources()
	pw.srcs = make([]pfSource, len(srcs))
	pw.counts = make([]int64, len(srcs))
	for i, s := range srcs {
		ps := &pw.srcs[i]
		ps.role, ps.fn = pw.rules.Role[i], pw.rules.Func[i]
		ps.nextComm, ps.nextPID = -1, -1
		if i >= len(infos) || !infos[i].Selected || infos[i].Err != nil {
			continue
		}
		ps.selected = true
		ps.name = pw.intern(pfInternEventNames, s.Name)
		names := make([]string, 0, len(infos[i].Fields))
		for name := range infos[i].Fields {
			names = append(names, name)
		}
		slices.SortFunc(names, func(a, b string) int { return cmp.Compare(infos[i].Fields[a], infos[i].Fields[b]) })
		for _, name := range names {
			ps.fields = append(ps.fields, pfField{col: infos[i].Fields[name], name: pw.intern(pfInternAnnotationNames, name)})
		}
		if s.Name == "sched:sched_switch" {
			ps.nextComm, ps.nextPID = pw.r.FieldColumn(i, "next_comm"), pw.r.FieldColumn(i, "next_pid")
			ps.sched = ps.nextComm >= 0 && ps.nextPID >= 0
		}
	}
}

// firstPacket writes the first packet: it clears the sequence's
// incremental state, sets the clock of every later timestamp and declares
// that clock the trace's; REALTIME beside it lines the trace up with wall
// time and other traces.
func (pw *perfettoWriter) firstPacket(f *format.File, clk uint64) {
	p := &pw.out
	p.begin(pfTracePacket)
	p.varint(pfPacketSequenceID, pfSeq)
	p.varint(pfPacketSequenceFlags, pfSeqIncrementalStateCleared)
	p.begin(pfPacketDefaults)
	p.varint(pfDefaultsTimestampClockID, clk)
	p.end()
	start := replay.TraceStart(f)
	p.begin(pfPacketClockSnapshot)
	p.begin(pfSnapshotClocks)
	p.varint(pfClockID, clk)
	p.varint(pfClockTimestamp, start)
	p.end()
	if off := f.Header.Host.WallOffsetNS; off != 0 && clk != pfClockRealtime {
		p.begin(pfSnapshotClocks)
		p.varint(pfClockID, pfClockRealtime)
		p.varint(pfClockTimestamp, uint64(int64(start)+off))
		p.end()
	}
	p.varint(pfSnapshotPrimaryClock, clk)
	p.end()
	pw.flushNews()
	p.end()
}

// flushNews writes the pending interned entries as the open packet's
// InternedData.
func (pw *perfettoWriter) flushNews() {
	if len(pw.news.b) == 0 {
		return
	}
	pw.out.begin(pfPacketInternedData)
	pw.out.b = append(pw.out.b, pw.news.b...)
	pw.out.end()
	pw.news.b = pw.news.b[:0]
}

// startEvent opens a TracePacket at ts and its TrackEvent, which the caller
// fills in pw.out and endEvent closes.
func (pw *perfettoWriter) startEvent(ts uint64, typ uint64, track uint64) *pbuf {
	p := &pw.out
	p.begin(pfTracePacket)
	p.varint(pfPacketTimestamp, ts)
	p.varint(pfPacketSequenceID, pfSeq)
	p.varint(pfPacketSequenceFlags, pfSeqNeedsIncrementalState)
	p.begin(pfPacketTrackEvent)
	p.varint(pfEventType, typ)
	p.varint(pfEventTrackUUID, track)
	return p
}

// endEvent closes the event and its packet, adding the interned entries the
// event introduced (field order within a packet does not matter: the
// packet's interned data is read before its event).
func (pw *perfettoWriter) endEvent() {
	p := &pw.out
	p.end()
	pw.flushNews()
	p.end()
	if len(p.b) >= perfettoFlush {
		pw.write()
	}
}

func (pw *perfettoWriter) write() {
	if pw.err != nil || len(pw.out.b) == 0 {
		return
	}
	n, err := pw.w.Write(pw.out.b)
	pw.res.Bytes += int64(n)
	if err != nil {
		pw.err = fmt.Errorf("write perfetto trace: %w", err)
	}
	pw.out.b = pw.out.b[:0]
}

// descriptor writes a TrackDescriptor packet; body fills the descriptor.
func (pw *perfettoWriter) descriptor(ts, uuid, parent uint64, name string, body func(p *pbuf)) {
	p := &pw.out
	p.begin(pfTracePacket)
	p.varint(pfPacketTimestamp, ts)
	p.varint(pfPacketSequenceID, pfSeq)
	p.begin(pfPacketTrackDescriptor)
	p.varint(pfTrackUUID, uuid)
	if parent != 0 {
		p.varint(pfTrackParentUUID, parent)
	}
	if name != "" {
		p.str(pfTrackName, name)
	}
	if body != nil {
		body(p)
	}
	p.end()
	p.end()
}

func (pw *perfettoWriter) comm(ci int32) string {
	if ci < 0 || int(ci) >= len(pw.comms) {
		return ""
	}
	return pw.comms[ci]
}

// threadTrack returns the track of an event's task, declaring its process
// and thread (again when its comm changed, which renames it from ts on).
func (pw *perfettoWriter) threadTrack(ts uint64, pid, tid int32, cpu uint32, ci int32) uint64 {
	if l := &pw.last; l.ok && l.tid == tid && l.pid == pid && l.ci == ci && tid != 0 {
		return l.uuid
	}
	u := pw.declareTask(ts, pid, tid, cpu, ci)
	pw.last.ok, pw.last.pid, pw.last.tid, pw.last.ci, pw.last.uuid = true, pid, tid, ci, u
	return u
}

func (pw *perfettoWriter) declareTask(ts uint64, pid, tid int32, cpu uint32, ci int32) uint64 {
	if tid == 0 {
		u := trackUUID(trackIdle, uint64(cpu))
		if !pw.idle[cpu] {
			pw.idle[cpu] = true
			pw.descriptor(ts, u, 0, "CPU "+strconv.Itoa(int(cpu))+" idle task (tid 0)", nil)
		}
		return u
	}
	proc := trackUUID(trackProcess, uint64(uint32(pid)))
	if old, ok := pw.processes[pid]; !ok || (tid == pid && old != ci) {
		pw.processes[pid] = ci
		name := pw.comm(ci)
		pw.descriptor(ts, proc, 0, "", func(p *pbuf) {
			p.begin(pfTrackProcess)
			p.sint(pfProcessPID, int64(pid))
			if name != "" {
				p.str(pfProcessName, name)
			}
			p.end()
		})
	}
	th, ok := pw.threads[tid]
	if ok && th.comm == ci && th.pid == pid {
		return th.uuid
	}
	u := trackUUID(trackThread, uint64(uint32(pid))<<28|uint64(uint32(tid))&(1<<28-1))
	pw.threads[tid] = pfThread{uuid: u, comm: ci, pid: pid}
	name := pw.comm(ci)
	pw.descriptor(ts, u, proc, "", func(p *pbuf) {
		p.begin(pfTrackThread)
		p.sint(pfThreadPID, int64(pid))
		p.sint(pfThreadTID, int64(tid))
		if name != "" {
			p.str(pfThreadName, name)
		}
		p.end()
	})
	return u
}

// counterTrack declares a counter track.
func (pw *perfettoWriter) counterTrack(ts, uuid uint64, name, unit string) {
	pw.descriptor(ts, uuid, 0, name, func(p *pbuf) {
		p.begin(pfTrackCounter)
		p.str(pfCounterUnitName, unit) // a free-form unit, "instead" of the Unit enum
		p.end()
	})
}

func (pw *perfettoWriter) counter(ts, track uint64, v int64) {
	e := pw.startEvent(ts, pfTypeCounter, track)
	e.sint(pfEventCounterValue, v)
	pw.endEvent()
	pw.res.Counters++
}

// advance writes the counters due before ts: closed events/s bins and loss
// reports.
func (pw *perfettoWriter) advance(ts uint64) {
	pw.lostUntil(ts)
	bin := ts / pw.binNS
	if !pw.binSeen {
		pw.bin, pw.binSeen = bin, true
		return
	}
	if bin == pw.bin {
		return
	}
	pw.closeBin()
	if bin > pw.bin+1 {
		// A gap without events: the rate drops to zero until the next bin.
		pw.bin++
		pw.closeBin()
	}
	pw.bin = bin
}

// lostUntil writes the loss reports up to ts as cumulative counters per CPU.
func (pw *perfettoWriter) lostUntil(ts uint64) {
	for len(pw.lost) > 0 && pw.lost[0].Time <= ts {
		l := pw.lost[0]
		pw.lost = pw.lost[1:]
		u := trackUUID(trackLost, uint64(l.CPU))
		if _, ok := pw.lostSum[l.CPU]; !ok {
			pw.counterTrack(l.Time, u, "lost samples, CPU "+strconv.Itoa(int(l.CPU)), "samples lost (cumulative)")
		}
		pw.lostSum[l.CPU] += int64(l.Count)
		pw.counter(l.Time, u, pw.lostSum[l.CPU])
	}
}

// closeBin writes each source's rate in the current bin at the bin's start.
func (pw *perfettoWriter) closeBin() {
	ts := pw.bin * pw.binNS
	scale := 1e9 / float64(pw.binNS)
	for i := range pw.srcs {
		ps := &pw.srcs[i]
		if !ps.selected {
			continue
		}
		if !ps.rateTrack {
			if pw.counts[i] == 0 {
				continue
			}
			ps.rateTrack = true
			pw.counterTrack(ts, trackUUID(trackRate, uint64(i)), pw.r.File().Header.Sources[i].Name+" events/s", "events/s")
		}
		pw.counter(ts, trackUUID(trackRate, uint64(i)), int64(float64(pw.counts[i])*scale+0.5))
		pw.counts[i] = 0
	}
}

func (pw *perfettoWriter) batch(b *batch) {
	if b.comm.dict != nil && len(pw.comms) != b.comm.vals.Len() {
		// The comm dictionary is the same array in every batch: name its
		// indexes once.
		pw.comms = make([]string, b.comm.vals.Len())
		for i := range pw.comms {
			pw.comms[i] = strings.Clone(b.comm.vals.Value(i))
		}
	}
	rec := b.rec
	pw.cols = rec.Columns()
	pw.nulls = pw.nulls[:0]
	for _, c := range pw.cols {
		pw.nulls = append(pw.nulls, c.NullN() > 0)
	}
	for i := 0; i < b.n; i++ {
		src := b.srcOf(i)
		if src < 0 {
			continue
		}
		ps := &pw.srcs[src]
		ts := b.ts.Value(i)
		pw.res.Events++
		pw.advance(ts)
		pw.counts[src]++
		pw.lastTS = max(pw.lastTS, ts)
		cpu, tid := b.cpu.Value(i), b.tid.Value(i)
		ci := int32(-1)
		if b.comm.valid(i) {
			ci = int32(b.comm.index(i))
		}
		track := pw.threadTrack(ts, b.pid.Value(i), tid, cpu, ci)
		stack := b.stackID(i)
		if ps.sched {
			pw.schedSwitch(i, ts, cpu, ps, stack)
			continue
		}
		switch ps.role {
		case latency.Entry:
			t := &pw.tmp
			t.b = protowire.AppendVarint(t.b[:0], uint64(src))
			pw.annotations(t, i, ps, pw.annot.entry)
			pw.callstack(t, stack)
			pw.pairer.Entry(latency.ThreadKey(tid, cpu), ps.fn, ts, latency.Payload{StackID: stack, Aux: pw.keep(t.b)})
			continue
		case latency.Exit:
			k := latency.ThreadKey(tid, cpu)
			pr, ok := pw.pairer.Exit(k, ps.fn, ts)
			if !ok {
				pw.res.UnmatchedReturns++
				pw.instant(ts, track, ps.name, i, ps, stack, true)
				continue
			}
			_, n := protowire.ConsumeVarint(pr.Aux)
			hp := heldPair{start: pr.Start, end: pr.Start + pr.Dur, track: track, name: pw.funcName[ps.fn], entry: pr.Aux[n:]}
			if (pw.heldCount == 0 || len(pw.held[k.N]) == 0) && pw.pairer.Open(k) == 0 {
				// Nothing open below and nothing held: the pair is
				// written as it completes, the return's fields in place.
				pw.sliceBegin(&hp)
				e := pw.startEvent(ts, pfTypeSliceEnd, track)
				pw.annotations(e, i, ps, pw.annot.ret)
				pw.callstack(e, stack)
				pw.endEvent()
				continue
			}
			t := &pw.tmp
			t.b = t.b[:0]
			pw.annotations(t, i, ps, pw.annot.ret)
			pw.callstack(t, stack)
			pw.seq++
			hp.seq, hp.exit = pw.seq, pw.keep(t.b)
			pw.hold(k, hp)
			continue
		}
		pw.instant(ts, track, ps.name, i, ps, stack, false)
	}
}

// instant writes event i as an instant on track.
func (pw *perfettoWriter) instant(ts, track, name uint64, i int, ps *pfSource, stack int64, unmatched bool) {
	e := pw.startEvent(ts, pfTypeInstant, track)
	e.varint(pfEventNameIID, name)
	pw.annotations(e, i, ps, 0)
	if unmatched {
		boolAnnotation(e, pw.annot.unmatched)
	}
	pw.callstack(e, stack)
	pw.endEvent()
	pw.res.Instants++
}

func boolAnnotation(e *pbuf, name uint64) {
	e.begin(pfEventDebugAnnotations)
	e.varint(pfAnnotNameIID, name)
	e.varint(pfAnnotBool, 1)
	e.end()
}

// unmatchedEntry writes an entry that will never pair as an instant.
func (pw *perfettoWriter) unmatchedEntry(k latency.Key, fn int, ts uint64, pl latency.Payload) {
	src, n := protowire.ConsumeVarint(pl.Aux)
	if n < 0 || int(src) >= len(pw.srcs) {
		return
	}
	pw.res.UnmatchedEntries++
	e := pw.startEvent(ts, pfTypeInstant, pw.keyTrack(k))
	e.varint(pfEventNameIID, pw.srcs[src].name)
	e.b = append(e.b, pl.Aux[n:]...)
	boolAnnotation(e, pw.annot.unmatched)
	pw.endEvent()
	pw.res.Instants++
}

// keep copies b into the slab; the copy's capacity ends with it, so an
// append never spills into the next one.
func (pw *perfettoWriter) keep(b []byte) []byte {
	if len(b) > 1<<12 {
		return slices.Clone(b)
	}
	if cap(pw.slab)-len(pw.slab) < len(b) {
		pw.slab = make([]byte, 0, 16<<10)
	}
	n := len(pw.slab)
	pw.slab = append(pw.slab, b...)
	return pw.slab[n:len(pw.slab):len(pw.slab)]
}

// keyTrack is the track of a pairing key (thread keys only).
func (pw *perfettoWriter) keyTrack(k latency.Key) uint64 {
	if k.N&(1<<63) != 0 {
		return trackUUID(trackIdle, k.N&^(1<<63))
	}
	return pw.threads[int32(uint32(k.N))].uuid
}

// hold keeps a completed pair until nothing is open below it on its thread,
// then writes the thread's held pairs outermost first.
func (pw *perfettoWriter) hold(k latency.Key, hp heldPair) {
	pw.held[k.N] = append(pw.held[k.N], hp)
	pw.heldCount++
	if pw.pairer.Open(k) == 0 || pw.heldCount >= maxHeldPairs {
		pw.release(k)
	}
}

// release writes the held pairs of k as properly nested begin/end events.
func (pw *perfettoWriter) release(k latency.Key) {
	hs := pw.held[k.N]
	if len(hs) == 0 {
		return
	}
	if len(hs) > 1 {
		slices.SortFunc(hs, func(a, b heldPair) int {
			return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end), cmp.Compare(b.seq, a.seq))
		})
	}
	var open []*heldPair
	for j := range hs {
		h := &hs[j]
		for len(open) > 0 && !encloses(open[len(open)-1], h) {
			pw.sliceEnd(open[len(open)-1])
			open = open[:len(open)-1]
		}
		pw.sliceBegin(h)
		open = append(open, h)
	}
	for len(open) > 0 {
		pw.sliceEnd(open[len(open)-1])
		open = open[:len(open)-1]
	}
	pw.heldCount -= len(hs)
	clear(hs)
	pw.held[k.N] = hs[:0]
	if cap(hs) > 64 {
		delete(pw.held, k.N)
	}
}

// encloses reports whether o is an ancestor of h: it started no later,
// ended no earlier, and completed after h.
func encloses(o, h *heldPair) bool {
	return o.start <= h.start && h.end <= o.end && o.seq > h.seq
}

func (pw *perfettoWriter) sliceBegin(h *heldPair) {
	e := pw.startEvent(h.start, pfTypeSliceBegin, h.track)
	e.varint(pfEventNameIID, h.name)
	e.b = append(e.b, h.entry...)
	pw.endEvent()
	pw.res.Slices++
}

func (pw *perfettoWriter) sliceEnd(h *heldPair) {
	e := pw.startEvent(h.end, pfTypeSliceEnd, h.track)
	e.b = append(e.b, h.exit...)
	pw.endEvent()
}

// schedSwitch ends the slice running on cpu and begins the next task's.
func (pw *perfettoWriter) schedSwitch(i int, ts uint64, cpu uint32, ps *pfSource, stack int64) {
	u := trackUUID(trackCPU, uint64(cpu))
	open, known := pw.cpuOpen[cpu]
	if !known {
		pw.descriptor(ts, u, 0, "CPU "+strconv.Itoa(int(cpu))+" (sched_switch)", nil)
	}
	if open {
		pw.startEvent(ts, pfTypeSliceEnd, u)
		pw.endEvent()
	}
	comm, _ := valueString(pw.cols[ps.nextComm], i)
	pid, _ := valueString(pw.cols[ps.nextPID], i)
	name := comm + " [" + pid + "]"
	id, ok := pw.events[name]
	if !ok && pw.dynamic < maxInterned {
		pw.dynamic++
		id, ok = pw.intern(pfInternEventNames, name), true
	}
	e := pw.startEvent(ts, pfTypeSliceBegin, u)
	if ok {
		e.varint(pfEventNameIID, id)
	} else {
		e.str(pfEventName, name)
	}
	pw.annotations(e, i, ps, 0)
	pw.callstack(e, stack)
	pw.endEvent()
	pw.cpuOpen[cpu] = true
	pw.res.CPUSlices++
}

// annotations appends event i's fields as debug annotations (TrackEvent
// field 4) to p: one per field, or one dict named dict holding them.
func (pw *perfettoWriter) annotations(p *pbuf, i int, ps *pfSource, dict uint64) {
	if len(ps.fields) == 0 {
		return
	}
	entry := pfEventDebugAnnotations
	if dict != 0 {
		p.begin(pfEventDebugAnnotations)
		p.varint(pfAnnotNameIID, dict)
		entry = pfAnnotDictEntries
	}
	for _, f := range ps.fields {
		col := pw.cols[f.col]
		if pw.nulls[f.col] && col.IsNull(i) {
			continue
		}
		p.begin(entry)
		p.varint(pfAnnotNameIID, f.name)
		switch x := col.(type) {
		case *array.Uint64:
			p.varint(pfAnnotUint, x.Value(i))
		case *array.Uint32:
			p.varint(pfAnnotUint, uint64(x.Value(i)))
		case *array.Uint16:
			p.varint(pfAnnotUint, uint64(x.Value(i)))
		case *array.Uint8:
			p.varint(pfAnnotUint, uint64(x.Value(i)))
		case *array.Int64:
			p.sint(pfAnnotInt, x.Value(i))
		case *array.Int32:
			p.sint(pfAnnotInt, int64(x.Value(i)))
		case *array.Int16:
			p.sint(pfAnnotInt, int64(x.Value(i)))
		case *array.Int8:
			p.sint(pfAnnotInt, int64(x.Value(i)))
		case *array.String:
			p.str(pfAnnotString, x.Value(i))
		case *array.Binary:
			p.str(pfAnnotString, hex.EncodeToString(x.Value(i)))
		default:
			s, _ := valueString(col, i)
			p.str(pfAnnotString, s)
		}
		p.end()
	}
	if dict != 0 {
		p.end()
	}
}

// callstack appends the interned callstack of a stack id (TrackEvent field
// callstack_iid), interning its frames into news on first use.
func (pw *perfettoWriter) callstack(p *pbuf, id int64) {
	if id < 0 {
		return
	}
	if int(id) >= len(pw.stackSeen) {
		pw.stackSeen = append(pw.stackSeen, make([]bool, int(id)+1-len(pw.stackSeen))...)
	}
	if !pw.stackSeen[id] {
		pw.stackSeen[id] = true
		frames := pw.r.Stack(id)
		ids := make([]uint64, len(frames))
		// Callstack.frame_ids lists the outermost frame first; replay's
		// stacks start at the leaf.
		for k, f := range frames {
			name := f.Name
			if !f.Kernel && f.Module != "" {
				name += " [" + f.Module + "]"
			}
			fid, ok := pw.funcs[name]
			if !ok {
				fid = uint64(len(pw.funcs) + 1)
				pw.funcs[name] = fid
				n := &pw.news
				n.begin(pfInternFunctionNames)
				n.varint(pfStringIID, fid)
				n.str(pfStringStr, name)
				n.end()
				n.begin(pfInternFrames)
				n.varint(pfFrameIID, fid)
				n.varint(pfFrameFunctionName, fid)
				n.end()
			}
			ids[len(frames)-1-k] = fid
		}
		n := &pw.news
		n.begin(pfInternCallstacks)
		n.varint(pfCallstackIID, uint64(id)+1)
		for _, fid := range ids {
			n.varint(pfCallstackFrameIDs, fid)
		}
		n.end()
	}
	p.varint(pfEventCallstackIID, uint64(id)+1)
}

func (pw *perfettoWriter) finish() {
	pw.pairer.Finish()
	keys := make([]uint64, 0, len(pw.held))
	for k := range pw.held {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pw.release(latency.Key{N: k})
	}
	// The tasks running on each CPU ran at least until the last event.
	cpus := make([]uint32, 0, len(pw.cpuOpen))
	for c, open := range pw.cpuOpen {
		if open {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	for _, c := range cpus {
		pw.startEvent(pw.lastTS, pfTypeSliceEnd, trackUUID(trackCPU, uint64(c)))
		pw.endEvent()
	}
	if pw.binSeen {
		pw.closeBin()
	}
	pw.lostUntil(^uint64(0))
	pw.write()
}
