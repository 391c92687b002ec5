package analyze

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/analyze/latency"
	"github.com/kpcap/kpcap/replay"
)

// TimelineOptions bound the event timeline of a report.
type TimelineOptions struct {
	// ThreadLanes is how many of the busiest threads get a lane of their
	// own (default 16); the other threads share one folded lane.
	ThreadLanes int
	// MaxItems bounds the individual slices (pairs) and instants kept
	// (default DefaultTimelineItems); past it only evenly spread time
	// windows keep their items and density buckets show the rest.
	MaxItems int
}

// Timeline bounds.
const (
	DefaultTimelineItems   = 100_000
	DefaultTimelineThreads = 16
	// TimelineBuckets is the finest number of density buckets per lane.
	TimelineBuckets = 8192
	// timelineWindows is how many detail windows the hinted span splits into.
	timelineWindows = 256
	// Threads and CPUs tracked one by one; more fold into one lane.
	maxTimelineThreads = 4096
	maxTimelineCPUs    = 256
	// maxDensityCells bounds the density buckets of all lanes together:
	// with many lanes each gets coarser buckets.
	maxDensityCells = 1 << 19
	// maxTimelineLosses bounds the loss records kept as ticks.
	maxTimelineLosses = 10_000
	// maxTimelineStrings and maxTimelineStringBytes bound the distinct
	// field texts of items.
	maxTimelineStrings     = 50_000
	maxTimelineStringBytes = 4 << 20
	// timelineOutliers is how many of each function's longest pairs are
	// always kept, for the histogram's links.
	timelineOutliers = 10
)

// EventTimeline is what a report's timeline draws: per CPU and per thread
// lanes with event density buckets, paired entries/returns as slices, other
// events as instants, and a loss lane. Times are offsets from StartNS.
type EventTimeline struct {
	StartNS  uint64 `json:"start_ns"`
	SpanNS   uint64 `json:"span_ns"`
	BucketNS uint64 `json:"bucket_ns"`
	// WallOffsetNS turns capture times into Unix time (0 = unknown).
	WallOffsetNS int64          `json:"wall_offset_ns"`
	Lanes        []TimelineLane `json:"lanes"`
	Funcs        []string       `json:"funcs"`   // slice function names
	Sources      []string       `json:"sources"` // instant source names
	Strings      []string       `json:"strings"` // instant field texts
	Slices       TimelineSlices `json:"slices"`
	Instants     TimelineTicks  `json:"instants"`
	Losses       TimelineLosses `json:"losses"`
	// Outliers are, per function (index into Funcs), its longest pairs as
	// indexes into Slices, longest first.
	Outliers [][]int `json:"outliers"`

	// What the individual items cover: all of them unless Omitted* > 0.
	// Then only detail windows of WindowNS whose index is a multiple of
	// Stride keep their items (and none from TruncatedNS on, if set).
	Pairs            uint64 `json:"pairs"`
	InstantsTotal    uint64 `json:"instants_total"`
	LossRecords      uint64 `json:"loss_records"`
	OmittedSlices    uint64 `json:"omitted_slices"`
	OmittedInstants  uint64 `json:"omitted_instants"`
	OmittedLosses    uint64 `json:"omitted_losses"`
	WindowNS         uint64 `json:"window_ns"`
	Stride           uint64 `json:"stride"`
	TruncatedNS      uint64 `json:"truncated_ns,omitempty"`
	FoldedThreads    int    `json:"folded_threads"`
	FoldedCPUs       int    `json:"folded_cpus"`
	MaxItems         int    `json:"max_items"`
	DroppedFieldText uint64 `json:"dropped_field_text,omitempty"`
}

// TimelineLane is one row of the timeline.
type TimelineLane struct {
	// Kind is "cpu", "thread", "threads" (folded threads), "cpus" (folded
	// CPUs) or "loss".
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	CPU    uint32 `json:"cpu"`
	PID    int32  `json:"pid"`
	TID    int32  `json:"tid"`
	Events uint64 `json:"events"`
	// Density counts the lane's events (lost samples for "loss") per
	// BucketNS from StartNS.
	Density []uint32 `json:"density"`
}

// TimelineSlices are paired intervals, column by column, sorted by start:
// slice i lies on thread lane Lane[i] from Start[i] for Dur[i] ns.
type TimelineSlices struct {
	Lane  []int    `json:"lane"`
	Start []uint64 `json:"start"`
	Dur   []uint64 `json:"dur"`
	Func  []int    `json:"func"`
	CPU   []uint32 `json:"cpu"` // the CPU of the return
	// Text and RetText index Strings: the entry's and the return's event
	// fields (-1 = none or not kept).
	Text    []int `json:"text"`
	RetText []int `json:"ret_text"`
}

// TimelineTicks are instant events, sorted by time: on thread lane Lane[i]
// and CPU lane CPULane[i]; Text[i] indexes Strings (-1 = none).
type TimelineTicks struct {
	Lane    []int    `json:"lane"`
	CPULane []int    `json:"cpu_lane"`
	T       []uint64 `json:"t"`
	Src     []int    `json:"src"`
	Text    []int    `json:"text"`
}

// TimelineLosses are loss records: Count samples lost at T on CPU
// (-1 = not tied to a CPU) of source Src (-1 = unknown).
type TimelineLosses struct {
	T     []uint64 `json:"t"`
	CPU   []int64  `json:"cpu"`
	Count []uint64 `json:"count"`
}

// tlThread is one tracked thread.
type tlThread struct {
	pid, tid int32
	cpu      uint32
	comm     string
	events   uint64
	density  []uint32
}

type tlSlice struct {
	thread  int // index into threads, -1 = folded
	start   uint64
	dur     uint64
	fn      int
	cpu     uint32
	text    int32
	retText int32
}

type tlTick struct {
	thread, cpu int
	t           uint64
	src, text   int
}

type timelineAcc struct {
	o        TimelineOptions
	res      *EventTimeline
	origin   uint64
	hinted   bool
	seen     bool
	width    uint64 // density bucket width, ns (power of two)
	window   uint64 // detail window width, ns (power of two)
	stride   uint64
	full     bool // items stop: even window 0 alone is over the cap
	threads  []*tlThread
	threadOf map[latency.Key]int
	other    tlThread // folded threads
	cpus     []*tlThread
	cpuOf    map[uint32]int
	otherCPU tlThread
	slices   []tlSlice
	ticks    []tlTick
	outliers [][]tlSlice
	last     uint64
	role     []latency.Role
	strs     interner
	strIdx   map[string]int
	strBytes int
	fieldRec arrow.Record // the batch fieldCol belongs to
	fieldCol []int        // its non-common columns
	srcNames []string
	// lat is the latency pairing whose pairs become slices; it begins
	// before this accumulator.
	lat *latencyAcc
}

func newTimelineAcc(o TimelineOptions) *timelineAcc {
	if o.ThreadLanes <= 0 {
		o.ThreadLanes = DefaultTimelineThreads
	}
	if o.MaxItems <= 0 {
		o.MaxItems = DefaultTimelineItems
	}
	return &timelineAcc{o: o, res: &EventTimeline{MaxItems: o.MaxItems}, threadOf: map[latency.Key]int{}, cpuOf: map[uint32]int{},
		stride: 1, strs: interner{}, strIdx: map[string]int{}}
}

// pow2 is the smallest power of two >= max(v, 1).
func pow2(v uint64) uint64 {
	if v <= 1 {
		return 1
	}
	if v > 1<<62 {
		return 1 << 62
	}
	return 1 << bits.Len64(v-1)
}

func (a *timelineAcc) begin(in Input) error {
	f := in.File()
	// The frame index gives the span before any event is read: the
	// density and detail windows are sized from it. Files may lie; events
	// outside it are clamped or widen the buckets.
	var first, last uint64
	for _, fr := range f.Frames {
		if fr.Samples == 0 || fr.FirstNS == 0 {
			continue
		}
		if first == 0 || fr.FirstNS < first {
			first = fr.FirstNS
		}
		last = max(last, fr.LastNS)
	}
	since, until := windowOf(in)
	first = max(first, since)
	if until != 0 && last >= until {
		last = until - 1
	}
	a.width, a.window = 1024, 1<<20
	if first != 0 && last > first {
		a.origin, a.hinted, a.seen = first, true, true
		span := last - first + 1
		a.width = pow2((span + TimelineBuckets - 1) / TimelineBuckets)
		a.window = pow2((span + timelineWindows - 1) / timelineWindows)
	}
	a.res.Sources = make([]string, len(f.Header.Sources))
	a.srcNames = make([]string, len(f.Header.Sources))
	for i, s := range f.Header.Sources {
		a.srcNames[i] = s.Name
		a.res.Sources[i] = replay.EscapeControl(s.Name)
	}
	if a.lat != nil && a.lat.rules != nil {
		a.setRules(a.lat.rules)
	}
	return nil
}

// setRules takes the latency pairing's roles and function names: its
// entries and returns are drawn as slices, everything else as instants.
func (a *timelineAcc) setRules(r *latency.Rules) {
	a.role = r.Role
	a.res.Funcs = make([]string, len(r.Funcs))
	for i, n := range r.Funcs {
		a.res.Funcs[i] = replay.EscapeControl(n)
	}
	a.outliers = make([][]tlSlice, len(r.Funcs))
}

// bucket is the density index of ts, widening every lane's buckets when
// ts lies past the last one.
func (a *timelineAcc) bucket(ts uint64) int {
	if ts < a.origin {
		return 0
	}
	idx := (ts - a.origin) / a.width
	for idx >= TimelineBuckets {
		if a.width >= 1<<62 {
			return TimelineBuckets - 1
		}
		a.widen()
		idx = (ts - a.origin) / a.width
	}
	return int(idx)
}

func (a *timelineAcc) widen() {
	a.width *= 2
	merge := func(d []uint32) []uint32 {
		out := d[:(len(d)+1)/2]
		for i := range out {
			var s uint32
			if 2*i < len(d) {
				s = d[2*i]
			}
			if 2*i+1 < len(d) {
				s = satAdd(s, d[2*i+1])
			}
			out[i] = s
		}
		return out
	}
	for _, t := range a.threads {
		t.density = merge(t.density)
	}
	for _, c := range a.cpus {
		c.density = merge(c.density)
	}
	a.other.density = merge(a.other.density)
	a.otherCPU.density = merge(a.otherCPU.density)
}

func satAdd(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint32(0)
}

func (t *tlThread) count(idx int) {
	t.events++
	if idx >= len(t.density) {
		t.density = append(t.density, make([]uint32, idx+1-len(t.density))...)
	}
	t.density[idx] = satAdd(t.density[idx], 1)
}

// thread is the tracked thread of row i, -1 when past the tracking bound.
func (a *timelineAcc) thread(b *batch, i int) int {
	tid, cpu := b.tid.Value(i), b.cpu.Value(i)
	k := latency.ThreadKey(tid, cpu)
	if t, ok := a.threadOf[k]; ok {
		return t
	}
	if len(a.threads) >= maxTimelineThreads {
		return -1
	}
	a.threads = append(a.threads, &tlThread{pid: b.pid.Value(i), tid: tid, cpu: cpu, comm: replay.EscapeControl(strings.Clone(b.comm.value(i)))})
	a.threadOf[k] = len(a.threads) - 1
	return len(a.threads) - 1
}

func (a *timelineAcc) cpu(c uint32) int {
	if l, ok := a.cpuOf[c]; ok {
		return l
	}
	if len(a.cpus) >= maxTimelineCPUs {
		return -1
	}
	a.cpus = append(a.cpus, &tlThread{cpu: c})
	a.cpuOf[c] = len(a.cpus) - 1
	return len(a.cpus) - 1
}

// keeps reports whether items starting at ts are kept under the current stride.
func (a *timelineAcc) keeps(ts uint64) bool {
	if a.full {
		return false
	}
	w := uint64(0)
	if ts > a.origin {
		w = (ts - a.origin) / a.window
	}
	return w%a.stride == 0
}

// trim doubles the stride until the kept items fit the cap again.
func (a *timelineAcc) trim() {
	for len(a.slices)+len(a.ticks) > a.o.MaxItems && !a.full {
		if a.stride >= 1<<40 {
			a.full = true
			a.res.TruncatedNS = a.last
			break
		}
		a.stride *= 2
		a.slices = slices.DeleteFunc(a.slices, func(s tlSlice) bool { return !a.keeps(s.start) })
		a.ticks = slices.DeleteFunc(a.ticks, func(t tlTick) bool { return !a.keeps(t.t) })
		// With one window left, more striding frees nothing.
		if len(a.slices)+len(a.ticks) > a.o.MaxItems && (a.last-a.origin)/a.window < a.stride {
			a.full = true
			a.res.TruncatedNS = a.last
		}
	}
}

func (a *timelineAcc) add(b *batch) error {
	for i := 0; i < b.n; i++ {
		ts := b.ts.Value(i)
		if !a.seen {
			a.origin, a.seen = ts, true
		}
		a.last = max(a.last, ts)
		idx := a.bucket(ts)
		th := a.thread(b, i)
		if th >= 0 {
			a.threads[th].count(idx)
		} else {
			a.other.count(idx)
		}
		cl := a.cpu(b.cpu.Value(i))
		if cl >= 0 {
			a.cpus[cl].count(idx)
		} else {
			a.otherCPU.count(idx)
		}
		src := b.srcOf(i)
		if src >= 0 && src < len(a.role) && a.role[src] != latency.None {
			continue
		}
		a.res.InstantsTotal++
		if !a.keeps(ts) {
			continue
		}
		a.ticks = append(a.ticks, tlTick{thread: th, cpu: cl, t: ts, src: src, text: a.fieldText(b, i)})
		if len(a.slices)+len(a.ticks) > a.o.MaxItems {
			a.trim()
		}
	}
	return nil
}

// entryText is the field text of an entry row, kept when its slice may be.
func (a *timelineAcc) entryText(b *batch, i int) int32 {
	if !a.keeps(b.ts.Value(i)) {
		return -1
	}
	return int32(a.fieldText(b, i))
}

// fieldText interns the "name=value ..." text of row i's event fields.
func (a *timelineAcc) fieldText(b *batch, i int) int {
	if a.fieldRec != b.rec {
		// The latency pass asks before this accumulator sees the batch.
		a.fieldRec, a.fieldCol = b.rec, a.fieldCol[:0]
		for c, fld := range b.rec.Schema().Fields() {
			if !commonColumns[fld.Name] {
				a.fieldCol = append(a.fieldCol, c)
			}
		}
	}
	prefix := "\x00"
	if src := b.srcOf(i); src >= 0 && src < len(a.srcNames) {
		prefix = a.srcNames[src] + "."
	}
	var s strings.Builder
	for _, c := range a.fieldCol {
		v, ok := valueString(b.rec.Column(c), i)
		if !ok {
			continue
		}
		if len(v) > 160 {
			v = v[:160] + "…"
		}
		if s.Len() > 0 {
			s.WriteByte(' ')
		}
		// Replay prefixes a field with its source when sources clash.
		s.WriteString(strings.TrimPrefix(b.rec.Schema().Field(c).Name, prefix))
		s.WriteByte('=')
		s.WriteString(v)
		if s.Len() > 600 {
			break
		}
	}
	if s.Len() == 0 {
		return -1
	}
	t := s.String()
	if k, ok := a.strIdx[t]; ok {
		return k
	}
	if len(a.res.Strings) >= maxTimelineStrings || a.strBytes+len(t) > maxTimelineStringBytes {
		a.res.DroppedFieldText++
		return -1
	}
	a.strBytes += len(t)
	a.strIdx[t] = len(a.res.Strings)
	a.res.Strings = append(a.res.Strings, replay.EscapeControl(t))
	return len(a.res.Strings) - 1
}

// pair takes one pair of the latency pairing; row i of b is its return.
func (a *timelineAcc) pair(p latency.Pair, b *batch, i int) {
	a.res.Pairs++
	s := tlSlice{thread: a.thread(b, i), start: p.Start, dur: p.Dur, fn: p.Func, cpu: b.cpu.Value(i), text: p.Ref, retText: -1}
	if a.keeps(p.Start) {
		s.retText = int32(a.fieldText(b, i))
	}
	if p.Func < len(a.outliers) {
		o := a.outliers[p.Func]
		if len(o) < timelineOutliers || p.Dur > o[len(o)-1].dur {
			at, _ := slices.BinarySearchFunc(o, p.Dur, func(x tlSlice, d uint64) int { return cmp.Compare(d, x.dur) })
			o = slices.Insert(o, at, s)
			a.outliers[p.Func] = o[:min(len(o), timelineOutliers)]
		}
	}
	if !a.keeps(p.Start) {
		return
	}
	a.slices = append(a.slices, s)
	if len(a.slices)+len(a.ticks) > a.o.MaxItems {
		a.trim()
	}
}

// off is ts as an offset from the origin (0 for times before it).
func (a *timelineAcc) off(ts uint64) uint64 {
	if ts < a.origin {
		return 0
	}
	return ts - a.origin
}
