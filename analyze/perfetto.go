package analyze

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/analyze/latency"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
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

// Bounds on what the export keeps between events.
const (
	maxInterned    = 1 << 16 // dynamic names (CPU slices, frames) interned; further ones are written inline
	maxHeldPairs   = 1 << 16 // completed pairs held until their thread's outermost call returns
	perfettoFlush  = 1 << 20 // output bytes buffered before a write
	defaultRateBin = 100_000_000
)

// pfField is a field written as a debug annotation: its column and name.
type pfField struct {
	col  int
	name uint64 // debug annotation name iid
}

// pfSource is how an event source is written: its name, fields and role.
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

// perfettoWriter is the state of one WritePerfetto call.
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

// begin sets up pairing, names and loss records and writes the first
// packet.
func (pw *perfettoWriter) begin() error {
	f := pw.r.File()
	clk, err := clockID(f.Header.Capture.Clock)
	if err != nil {
		return err
	}
	srcs := f.Header.Sources
	if pw.rules, err = pairRules(srcs, pw.o.Start, pw.o.End); err != nil {
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

// batch writes the events of one batch in order: counters due before each,
// its task's track, then the event as a CPU slice, a pair's end or an
// instant.
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
			pw.pairEntry(i, src, ts, latency.ThreadKey(tid, cpu), ps, stack)
			continue
		case latency.Exit:
			pw.pairExit(i, ts, latency.ThreadKey(tid, cpu), track, ps, stack)
			continue
		}
		pw.instant(ts, track, ps.name, i, ps, stack, false)
	}
}

// finish writes what the end of the trace closes: unmatched entries, held
// pairs, the CPUs' running slices, the last rate bin and the remaining
// loss reports.
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
