package analyze

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// The summary's fast path counts straight off the file's samples: frames
// are decompressed and walked in parallel, each worker keeps partial
// counts (slices indexed by source, CPU and comm where it can), and the
// partials are merged at the end. No Arrow column is built, and only
// sources with utf8 fields have their strings read.
//
// It must give exactly what the batch path (summaryAcc over replay
// batches) gives, so it declines, and the batch path runs instead, when
// the result would depend on what it does not reproduce:
//   - a --filter or a time window (the replay Reader applies those);
//   - a frame or sample that cannot be read (the Reader warns and keeps
//     the samples before the damage);
//   - a payload shorter than its event format (the Reader warns);
//   - frames out of order beyond the Reader's reorder window (the order of
//     rows, which the latest comm of a pid depends on, differs then);
//   - more distinct values of a string field than topK keeps exactly (its
//     pruning depends on the order values arrive in).

// sampleSource is what the fast path needs of the input: *replay.Reader
// (and wrappers embedding it) provide it.
type sampleSource interface {
	Options() replay.Options
	Unread() bool
	NewSampleDecoder() *replay.SampleDecoder
	CommNames() []string
	MergeOrder([]replay.FrameSpan) (first uint64, ordered bool)
	Schema() *arrow.Schema
}

// errDecline stops a fast pass that must hand over to the batch path.
var errDecline = errors.New("summary fast path declined")

// summarizeFast returns ok false when the batch path must run instead
// (nothing of in has been consumed then).
func summarizeFast(in Input, o SummaryOptions) (s *Summary, ok bool, err error) {
	src, isSrc := in.(sampleSource)
	f := in.File()
	if !isSrc || f == nil || !src.Unread() || f.HasCgroups() {
		// (per-cgroup counts are the batch path's)
		return nil, false, nil
	}
	opts := src.Options()
	if since, until := windowOf(in); opts.Filter != "" || opts.Since != 0 || opts.Until != 0 || since != 0 || until != 0 {
		return nil, false, nil
	}
	a := newSummaryAcc(o)
	if err := a.begin(in); err != nil {
		return nil, false, err
	}
	// The rate's buckets start at the first row the Reader returns; guess
	// it from the frame index, check it afterwards, and count again in the
	// rare case the guess was wrong.
	spans := make([]replay.FrameSpan, len(f.Frames))
	for i, fi := range f.Frames {
		spans[i] = replay.FrameSpan{MinTS: fi.FirstNS, MaxTS: fi.LastNS, Rows: int(min(fi.Samples, 1<<40))}
	}
	start, width := rateGrid(src, spans, a.opts.MaxBuckets)
	prog := newPassProgress(in)
	// A pass that hands over to the batch path leaves no progress behind.
	defer func() {
		if !ok {
			prog.reset()
		}
	}()
	for try := 0; try < 2; try++ {
		prog.reset()
		res, err := fastPass(src, f, start, width, a.opts.MaxBuckets, prog)
		if err != nil {
			if errors.Is(err, errDecline) {
				return nil, false, nil
			}
			return nil, false, err
		}
		_, ordered := src.MergeOrder(res.spans)
		if !ordered {
			return nil, false, nil
		}
		s2, w2 := rateGrid(src, res.spans, a.opts.MaxBuckets)
		if res.events > 0 && (s2 != start || w2 != width || res.rateOff) {
			start, width = s2, w2
			continue
		}
		if err := res.fill(a, src, start, width); err != nil {
			if errors.Is(err, errDecline) {
				return nil, false, nil
			}
			return nil, false, err
		}
		if err := a.finish(in); err != nil {
			return nil, false, err
		}
		return a.s, true, nil
	}
	return nil, false, nil
}

// rateGrid is where the timeline of the rows of spans starts and the
// bucket width it ends with (see timeline: the width doubles from 1 ms
// until every row fits in max buckets).
func rateGrid(src sampleSource, spans []replay.FrameSpan, max int) (start, width uint64) {
	start, _ = src.MergeOrder(spans)
	var last uint64
	for _, sp := range spans {
		if sp.Rows > 0 {
			last = maxU64(last, sp.MaxTS)
		}
	}
	width = 1_000_000
	if last > start {
		for (last-start)/width >= uint64(max) && width < 1<<62 { // (no overflow on hostile times)
			width *= 2
		}
	}
	return start, width
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// fastPID is one pid's count and the comm of its latest named row, that
// row being identified by (ts, frame, position) as the Reader orders rows.
type fastPID struct {
	n     uint64
	ts    uint64
	frame int32
	pos   int32
	comm  int32 // -1: no named row yet
}

func (p *fastPID) later(ts uint64, frame, pos int32) bool {
	if ts != p.ts {
		return ts > p.ts
	}
	if frame != p.frame {
		return frame > p.frame
	}
	return pos >= p.pos
}

// fastPart is one worker's partial counts.
type fastPart struct {
	events, stacks uint64
	perSrc         []uint64
	weights        []uint64 // per source: the sum of the periods
	cpus           []uint64 // by CPU below len(cpus)
	cpuMap         map[uint32]uint64
	comms          []uint64 // by comm index + 1 (0: unnamed)
	pids           map[int32]*fastPID
	rate           []uint64
	rateOff        bool // a row fell outside the guessed buckets
	strs           map[int]map[string]uint64
}

// fastResult is the merged pass.
type fastResult struct {
	fastPart
	spans []replay.FrameSpan
}

// maxDistinct is how many distinct values of a field topK counts exactly.
const maxDistinct = 2 * topKCapacity

// srcPlan is what the fast path does with one source's samples.
type srcPlan struct {
	plain     bool // keep && fixedOnly && !strs: only the length to check
	keep      bool
	fixedOnly bool // truncated iff shorter than minLen
	strs      bool // has utf8 fields
	minLen    int
	countAs   int     // header index the batch path counts it under
	count     *uint64 // the worker's counter of countAs (each worker has its plans)
	weight    *uint64 // the worker's sum of countAs's periods
}

// fastWorker walks frames into its partial counts. Consecutive samples of
// one task on one CPU from one source (the common case) form a run whose
// per-task counts are added once, when the run ends.
type fastWorker struct {
	p            *fastPart
	dec          *replay.SampleDecoder
	plans        []srcPlan
	named        []bool
	start, width uint64
	buckets      int
	frame, pos   int32
	minTS, maxTS uint64
	rows         int
	tooMany      bool
	addStr       func(col int, v []byte)
	// the current rate bucket: rows in [bLo, bLo+bW) count in *bCount
	// (bW 0: none)
	bLo, bW uint64
	bCount  *uint64
	runs    [nRuns]sampleRun // by CPU: CPUs' samples interleave in a frame
	// pidCache maps pids to their entries, direct-mapped.
	pidCache [256]struct {
		pid int32
		ent *fastPID
	}
}

// nRuns is how many runs a worker keeps open (a power of two).
const nRuns = 8

// sampleRun is a run of samples sharing pid, tid and comm.
type sampleRun struct {
	n         uint64
	pid, tid  uint32
	cpu       uint32 // tells the idle tasks (tid 0) of different CPUs apart
	ci        int32
	from, til uint64 // the comm holds over [from, til); til 0 when the run is closed
	lastTS    uint64 // the run's latest row: (lastTS, lastPos)
	lastPos   int32
}

func (w *fastWorker) visit(s *format.Sample) error {
	if s.Source >= uint32(len(w.plans)) {
		return nil
	}
	pl := &w.plans[s.Source]
	if !pl.plain || len(s.Raw) < pl.minLen {
		// Dropped sources, payloads to check field by field, strings.
		if !pl.keep {
			return nil
		}
		if len(s.Raw) < pl.minLen || !pl.fixedOnly && w.dec.Truncated(s) {
			return errDecline
		}
		if pl.strs {
			w.dec.Strings(s, w.addStr)
			if w.tooMany {
				return errDecline
			}
		}
	}
	ts, pos := s.Time, w.pos
	w.pos = pos + 1
	r := &w.runs[s.CPU&(nRuns-1)]
	if ts >= r.til || s.PID != r.pid || s.TID != r.tid || ts < r.from || s.TID == 0 && s.CPU != r.cpu {
		w.flush(r)
		r.pid, r.tid, r.cpu = s.PID, s.TID, s.CPU
		r.ci, r.from, r.til = w.dec.CommSpan(s.PID, s.TID, s.CPU, ts)
		if r.til == 0 { // (a span ending at 0 would look closed)
			r.til = 1
		}
		r.lastTS = ts
	}
	r.n++
	if ts >= r.lastTS {
		r.lastTS, r.lastPos = ts, pos
	}
	*pl.count++
	*pl.weight += s.Weight()
	p := w.p
	if s.CPU < uint32(len(p.cpus)) {
		p.cpus[s.CPU]++
	} else {
		w.otherCPU(s.CPU)
	}
	if ts-w.bLo < w.bW {
		*w.bCount++
	} else {
		w.bucket(ts)
	}
	w.minTS = min(w.minTS, ts)
	w.maxTS = max(w.maxTS, ts)
	if len(s.Callchain) > 0 {
		p.stacks++
	}
	return nil
}

// otherCPU counts a sample of a CPU beyond the counting slice.
func (w *fastWorker) otherCPU(cpu uint32) {
	p := w.p
	if p.cpuMap == nil {
		p.cpuMap = map[uint32]uint64{}
	}
	p.cpuMap[cpu]++
}

// bucket counts ts in its rate bucket and makes that bucket the current one.
func (w *fastWorker) bucket(ts uint64) {
	p := w.p
	var bi uint64
	lo := uint64(0)
	if ts > w.start {
		bi = (ts - w.start) / w.width
		lo = w.start + bi*w.width
	}
	if bi >= uint64(w.buckets) {
		p.rateOff = true
		return
	}
	if bi >= uint64(len(p.rate)) {
		// Grown as rows need it: --buckets may be large.
		p.rate = append(p.rate, make([]uint64, int(bi)+1-len(p.rate))...)
	}
	p.rate[bi]++
	// The bucket is [lo, hi): [0, start+width) for the first.
	hi := w.start + (bi+1)*w.width
	w.bLo, w.bW, w.bCount = lo, 0, &p.rate[bi]
	if hi > lo { // (0 on overflow: every row takes this slow path)
		w.bW = hi - lo
	}
}

// flush adds run r to the counts.
func (w *fastWorker) flush(r *sampleRun) {
	if r.n == 0 {
		return
	}
	p := w.p
	n := r.n
	w.rows += int(n)
	p.comms[r.ci+1] += n
	pid := int32(r.pid)
	pc := &w.pidCache[r.pid&255]
	pe := pc.ent
	if pe == nil || pc.pid != pid {
		pe = p.pids[pid]
		if pe == nil {
			pe = &fastPID{comm: -1}
			p.pids[pid] = pe
		}
		pc.pid, pc.ent = pid, pe
	}
	pe.n += n
	if r.ci >= 0 && w.named[r.ci] && (pe.comm < 0 || pe.later(r.lastTS, w.frame, r.lastPos)) {
		pe.comm, pe.ts, pe.frame, pe.pos = r.ci, r.lastTS, w.frame, r.lastPos
	}
	r.n, r.til = 0, 0 // closed: the next sample starts a run
}

// addString counts one value of string column col.
func (w *fastWorker) addString(col int, v []byte) {
	p := w.p
	m := p.strs[col]
	if m == nil {
		if p.strs == nil {
			p.strs = map[int]map[string]uint64{}
		}
		m = map[string]uint64{}
		p.strs[col] = m
	}
	if c, ok := m[string(v)]; ok {
		m[string(v)] = c + 1
		return
	}
	if len(m) >= maxDistinct {
		w.tooMany = true
		return
	}
	m[string(v)] = 1
}

func fastPass(src sampleSource, f *format.File, start, width uint64, buckets int, prog *passProgress) (*fastResult, error) {
	nsrc := len(f.Header.Sources)
	names := src.CommNames()
	named := make([]bool, len(names))
	for i, n := range names {
		named[i] = n != ""
	}
	// Samples count under the first source of their name, as the batch
	// path maps the probe column's names to sources.
	srcIdx := sourceIndex(f)
	dec0 := src.NewSampleDecoder()
	plans := make([]srcPlan, nsrc)
	for i, s := range f.Header.Sources {
		pl := &plans[i]
		pl.countAs = srcIdx[s.Name]
		if pl.keep = dec0.Keeps(uint32(i)); pl.keep {
			pl.minLen, pl.fixedOnly = dec0.MinLen(uint32(i))
			pl.strs = dec0.HasStrings(uint32(i))
			pl.plain = pl.fixedOnly && !pl.strs
		}
	}

	workers := src.Options().Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = max(1, min(workers, len(f.Frames)))
	// Each worker decompresses into one buffer of the largest frame's size
	// (the index's sizes are bounded by format.MaxFrameRaw): growing it
	// frame by frame costs copies, page faults and garbage collections.
	// (A frame larger than its index entry says fails to read.)
	var maxRaw int64
	for _, fi := range f.Frames {
		maxRaw = max(maxRaw, fi.RawSize)
	}
	maxRaw = min(maxRaw, format.MaxFrameRaw)
	spans := make([]replay.FrameSpan, len(f.Frames))
	parts := make([]*fastPart, workers)
	var next atomic.Int64
	var failed atomic.Bool
	var errMu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for wi := range workers {
		p := &fastPart{
			perSrc: make([]uint64, nsrc), weights: make([]uint64, nsrc), cpus: make([]uint64, 256), comms: make([]uint64, len(names)+1),
			pids: map[int32]*fastPID{},
		}
		parts[wi] = p
		wplans := slices.Clone(plans)
		for i := range wplans {
			wplans[i].count = &p.perSrc[wplans[i].countAs]
			wplans[i].weight = &p.weights[wplans[i].countAs]
		}
		w := &fastWorker{p: p, dec: src.NewSampleDecoder(), plans: wplans, named: named, start: start, width: width, buckets: buckets}
		w.addStr = w.addString
		wg.Add(1)
		go func() {
			defer wg.Done()
			fb := newFrameBuf(maxRaw)
			defer fb.free() // after the last visit: nothing keeps frame bytes
			buf := fb.bytes()
			visit := w.visit
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(f.Frames) {
					break
				}
				data, err := f.ReadFrame(i, buf)
				if err == nil {
					buf = data
					w.frame, w.pos, w.rows, w.minTS, w.maxTS = int32(i), 0, 0, ^uint64(0), 0
					err = format.ForEachSample(data, visit)
					for k := range w.runs {
						w.flush(&w.runs[k])
					}
				}
				if err != nil {
					// The batch path reports damage as warnings and keeps
					// what it could read: leave it to it.
					errMu.Lock()
					if firstErr == nil {
						firstErr = errDecline
					}
					errMu.Unlock()
					failed.Store(true)
					return
				}
				if w.rows > 0 {
					spans[i] = replay.FrameSpan{MinTS: w.minTS, MaxTS: w.maxTS, Rows: w.rows}
				}
				p.events += uint64(w.rows)
				prog.add(uint64(w.rows), f.Frames[i].CSize)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	res := &fastResult{fastPart: *parts[0], spans: spans}
	for _, p := range parts[1:] {
		res.merge(p)
	}
	return res, nil
}

// merge adds q's counts to p.
func (p *fastPart) merge(q *fastPart) {
	p.events += q.events
	p.stacks += q.stacks
	p.rateOff = p.rateOff || q.rateOff
	for i, n := range q.perSrc {
		p.perSrc[i] += n
	}
	for i, n := range q.weights {
		p.weights[i] += n
	}
	for i, n := range q.cpus {
		p.cpus[i] += n
	}
	for c, n := range q.cpuMap {
		if p.cpuMap == nil {
			p.cpuMap = map[uint32]uint64{}
		}
		p.cpuMap[c] += n
	}
	for i, n := range q.comms {
		p.comms[i] += n
	}
	if len(q.rate) > len(p.rate) {
		p.rate = append(p.rate, make([]uint64, len(q.rate)-len(p.rate))...)
	}
	for i, n := range q.rate {
		p.rate[i] += n
	}
	for pid, qe := range q.pids {
		pe := p.pids[pid]
		if pe == nil {
			p.pids[pid] = qe
			continue
		}
		pe.n += qe.n
		if qe.comm >= 0 && (pe.comm < 0 || pe.later(qe.ts, qe.frame, qe.pos)) {
			pe.comm, pe.ts, pe.frame, pe.pos = qe.comm, qe.ts, qe.frame, qe.pos
		}
	}
	for col, qm := range q.strs {
		if p.strs == nil {
			p.strs = map[int]map[string]uint64{}
		}
		pm := p.strs[col]
		if pm == nil {
			p.strs[col] = qm
			continue
		}
		for v, n := range qm {
			pm[v] += n
		}
	}
}

// fill puts the merged counts into a as the batch path would have left them.
func (res *fastResult) fill(a *summaryAcc, src sampleSource, start, width uint64) error {
	s := a.s
	s.Events = res.events
	s.StacksWith = res.stacks
	first := true
	for _, sp := range res.spans {
		if sp.Rows == 0 {
			continue
		}
		if first {
			s.FirstNS, s.LastNS, first = sp.MinTS, sp.MaxTS, false
		}
		s.FirstNS = min(s.FirstNS, sp.MinTS)
		s.LastNS = max(s.LastNS, sp.MaxTS)
	}
	copy(a.perSrc, res.perSrc)
	copy(a.weights, res.weights)
	for c, n := range res.cpus {
		if n > 0 {
			a.perCPU[uint32(c)] += n
		}
	}
	for c, n := range res.cpuMap {
		a.perCPU[c] += n
	}
	names := src.CommNames()
	commName := func(ci int32) string {
		if ci < 0 {
			return ""
		}
		return names[ci]
	}
	for i, n := range res.comms {
		if n > 0 {
			a.comms[commName(int32(i)-1)] += n
		}
	}
	for pid, pe := range res.pids {
		a.pids[pid] = &pidCount{comm: commName(pe.comm), n: pe.n}
	}
	if res.events > 0 {
		a.rate.start, a.rate.width, a.rate.seen = start, width, true
		last := uint64(0)
		if s.LastNS > start {
			last = (s.LastNS - start) / width
		}
		a.rate.events = make([]uint64, last+1)
		copy(a.rate.events, res.rate)
	}
	schema := src.Schema()
	for col, m := range res.strs {
		if len(m) > maxDistinct {
			return errDecline
		}
		a.fields[schema.Field(col).Name] = &topK{capacity: topKCapacity, counts: m}
	}
	return nil
}
