package analyze

import (
	"cmp"
	"math/bits"
	"slices"
	"strconv"
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

func (a *timelineAcc) finish(in Input) error {
	r := a.res
	r.StartNS, r.BucketNS, r.WindowNS, r.Stride = a.origin, a.width, a.window, a.stride
	if a.seen && a.last > a.origin {
		r.SpanNS = a.last - a.origin
	}
	r.WallOffsetNS = in.File().Header.Host.WallOffsetNS
	since, until := windowOf(in)
	loss := tlThread{}
	for _, l := range in.File().Lost {
		if l.Time < since || (until != 0 && l.Time >= until) {
			continue
		}
		r.LossRecords++
		idx := a.bucket(l.Time)
		if idx >= len(loss.density) {
			loss.density = append(loss.density, make([]uint32, idx+1-len(loss.density))...)
		}
		loss.density[idx] = satAdd(loss.density[idx], uint32(min(l.Count, 1<<32-1)))
		loss.events += l.Count
		if len(r.Losses.T) >= maxTimelineLosses {
			r.OmittedLosses++
			continue
		}
		cpu := int64(-1)
		if l.CPU != ^uint32(0) {
			cpu = int64(l.CPU)
		}
		r.Losses.T = append(r.Losses.T, a.off(l.Time))
		r.Losses.CPU = append(r.Losses.CPU, cpu)
		r.Losses.Count = append(r.Losses.Count, l.Count)
	}

	// Lanes: CPUs in order, the busiest threads, the folded rest, loss.
	cpuLane := make([]int, len(a.cpus))
	order := make([]int, len(a.cpus))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Compare(a.cpus[x].cpu, a.cpus[y].cpu) })
	for _, c := range order {
		cpuLane[c] = len(r.Lanes)
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "cpu", Name: "CPU " + strconv.FormatUint(uint64(a.cpus[c].cpu), 10), CPU: a.cpus[c].cpu, Events: a.cpus[c].events, Density: a.cpus[c].density})
	}
	otherCPULane := -1
	if a.otherCPU.events > 0 {
		otherCPULane = len(r.Lanes)
		r.FoldedCPUs = 1 // at least; CPUs past the bound are not counted one by one
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "cpus", Name: "other CPUs", Events: a.otherCPU.events, Density: a.otherCPU.density})
	}
	byBusy := make([]int, len(a.threads))
	for i := range byBusy {
		byBusy[i] = i
	}
	slices.SortStableFunc(byBusy, func(x, y int) int { return cmp.Compare(a.threads[y].events, a.threads[x].events) })
	threadLane := make([]int, len(a.threads))
	otherLane := -1
	if len(a.threads) > a.o.ThreadLanes || a.other.events > 0 {
		otherLane = len(r.Lanes) + min(len(a.threads), a.o.ThreadLanes)
	}
	folded := a.other
	for rank, t := range byBusy {
		th := a.threads[t]
		if rank >= a.o.ThreadLanes {
			threadLane[t] = otherLane
			r.FoldedThreads++
			folded.events += th.events
			if len(th.density) > len(folded.density) {
				folded.density = append(folded.density, make([]uint32, len(th.density)-len(folded.density))...)
			}
			for k, c := range th.density {
				folded.density[k] = satAdd(folded.density[k], c)
			}
			continue
		}
		threadLane[t] = len(r.Lanes)
		comm := th.comm
		if comm == "" {
			comm = "tid"
		}
		name := comm + " " + strconv.Itoa(int(th.tid))
		if th.tid == 0 {
			name = comm + " 0 (CPU " + strconv.FormatUint(uint64(th.cpu), 10) + ")"
		}
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "thread", Name: name, CPU: th.cpu, PID: th.pid, TID: th.tid, Events: th.events, Density: th.density})
	}
	if otherLane >= 0 {
		if a.other.events > 0 {
			r.FoldedThreads++ // at least one thread past the tracking bound
		}
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "threads", Name: "other threads (" + strconv.Itoa(r.FoldedThreads) + ")", Events: folded.events, Density: folded.density})
	}
	r.Lanes = append(r.Lanes, TimelineLane{Kind: "loss", Name: "lost samples", Events: loss.events, Density: loss.density})
	cells := 0
	for _, l := range r.Lanes {
		cells += len(l.Density)
	}
	for ; cells > maxDensityCells; cells /= 2 {
		r.BucketNS *= 2
		for i := range r.Lanes {
			d := r.Lanes[i].Density
			out := d[:(len(d)+1)/2]
			for k := range out {
				c := d[2*k]
				if 2*k+1 < len(d) {
					c = satAdd(c, d[2*k+1])
				}
				out[k] = c
			}
			r.Lanes[i].Density = out
		}
	}
	for i := range r.Lanes {
		if r.Lanes[i].Density == nil {
			r.Lanes[i].Density = []uint32{}
		}
	}
	laneOfThread := func(t int) int {
		if t < 0 {
			return otherLane
		}
		return threadLane[t]
	}
	laneOfCPU := func(c int) int {
		if c < 0 {
			return otherCPULane
		}
		return cpuLane[c]
	}

	// Outliers are kept even when their window was not: add those missing.
	type sliceKey struct {
		start, dur uint64
		fn, thread int
	}
	kept := map[sliceKey]bool{}
	for _, o := range a.outliers {
		for _, s := range o {
			kept[sliceKey{s.start, s.dur, s.fn, s.thread}] = false
		}
	}
	for _, s := range a.slices {
		k := sliceKey{s.start, s.dur, s.fn, s.thread}
		if _, ok := kept[k]; ok {
			kept[k] = true
		}
	}
	for _, o := range a.outliers {
		for _, s := range o {
			k := sliceKey{s.start, s.dur, s.fn, s.thread}
			if !kept[k] {
				kept[k] = true
				a.slices = append(a.slices, s)
			}
		}
	}
	slices.SortStableFunc(a.slices, func(x, y tlSlice) int { return cmp.Compare(x.start, y.start) })
	slices.SortStableFunc(a.ticks, func(x, y tlTick) int { return cmp.Compare(x.t, y.t) })
	r.OmittedSlices = r.Pairs - min(r.Pairs, uint64(len(a.slices)))
	r.OmittedInstants = r.InstantsTotal - min(r.InstantsTotal, uint64(len(a.ticks)))
	at := map[sliceKey]int{}
	for i, s := range a.slices {
		at[sliceKey{s.start, s.dur, s.fn, s.thread}] = i
		r.Slices.Lane = append(r.Slices.Lane, laneOfThread(s.thread))
		r.Slices.Start = append(r.Slices.Start, a.off(s.start))
		r.Slices.Dur = append(r.Slices.Dur, s.dur)
		r.Slices.Func = append(r.Slices.Func, s.fn)
		r.Slices.CPU = append(r.Slices.CPU, s.cpu)
		r.Slices.Text = append(r.Slices.Text, int(s.text))
		r.Slices.RetText = append(r.Slices.RetText, int(s.retText))
	}
	r.Outliers = make([][]int, len(a.outliers))
	for fn, o := range a.outliers {
		r.Outliers[fn] = []int{}
		for _, s := range o {
			r.Outliers[fn] = append(r.Outliers[fn], at[sliceKey{s.start, s.dur, s.fn, s.thread}])
		}
	}
	for _, t := range a.ticks {
		r.Instants.Lane = append(r.Instants.Lane, laneOfThread(t.thread))
		r.Instants.CPULane = append(r.Instants.CPULane, laneOfCPU(t.cpu))
		r.Instants.T = append(r.Instants.T, a.off(t.t))
		r.Instants.Src = append(r.Instants.Src, t.src)
		r.Instants.Text = append(r.Instants.Text, t.text)
	}
	if r.TruncatedNS != 0 {
		r.TruncatedNS = a.off(r.TruncatedNS)
	}
	for _, p := range []*[]int{&r.Slices.Lane, &r.Slices.Func, &r.Slices.Text, &r.Slices.RetText, &r.Instants.Lane, &r.Instants.CPULane, &r.Instants.Src, &r.Instants.Text} {
		if *p == nil {
			*p = []int{}
		}
	}
	for _, p := range []*[]uint64{&r.Slices.Start, &r.Slices.Dur, &r.Instants.T, &r.Losses.T, &r.Losses.Count} {
		if *p == nil {
			*p = []uint64{}
		}
	}
	if r.Slices.CPU == nil {
		r.Slices.CPU = []uint32{}
	}
	if r.Losses.CPU == nil {
		r.Losses.CPU = []int64{}
	}
	if r.Funcs == nil {
		r.Funcs = []string{}
	}
	if r.Strings == nil {
		r.Strings = []string{}
	}
	return nil
}

// off is ts as an offset from the origin (0 for times before it).
func (a *timelineAcc) off(ts uint64) uint64 {
	if ts < a.origin {
		return 0
	}
	return ts - a.origin
}
