package replay

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/kpcap/kpcap/format"
)

// Count is a counting pass over the rows Next would return: frames are
// decompressed and walked in parallel, each worker keeps partial counts
// (slices indexed by source, CPU and comm where it can), and the partials
// are merged at the end. No Arrow column is built, and only sources with
// utf8 fields have their strings read.
//
// It must count exactly what a pass through Next counts, so it declines
// when the result would depend on what it does not reproduce:
//   - Next was called, or the Reader is closed;
//   - a filter or a time window (Options.Filter, Since, Until);
//   - a frame or sample that cannot be read (Next warns and keeps the
//     samples before the damage);
//   - a payload shorter than its event format (Next warns);
//   - frames out of order beyond the reorder window (the order of rows,
//     which the latest comm of a pid depends on, differs then);
//   - more distinct values of a string column than CountOptions.MaxDistinct.

// CountOptions shape a counting pass (Reader.Count).
type CountOptions struct {
	// MaxBuckets is how many rate buckets the timeline may have: the
	// bucket width doubles from 1 ms until every row fits. Default 60.
	MaxBuckets int
	// MaxDistinct is how many distinct values of one utf8 column are
	// counted; a pass that finds more declines. Default 2048.
	MaxDistinct int
	// Progress, if set, receives the running totals of the pass as its
	// frames complete: rows counted and compressed bytes read. Calls never
	// overlap and the totals only grow, except that a pass starting again,
	// or declining, reports 0, 0 (when it had reported anything).
	Progress func(rows uint64, bytes int64)
}

// Counts is what a counting pass finds among the rows Next would return.
type Counts struct {
	Rows            uint64            // rows
	Stacks          uint64            // rows with a stack
	FirstNS, LastNS uint64            // the earliest and latest row's ts (0 without rows)
	Sources         []uint64          // rows per source, by index in the file header
	Weights         []uint64          // per source: the sum of the rows' periods
	CPUs            map[uint32]uint64 // rows per CPU
	Comms           map[string]uint64 // rows per comm ("" for rows without one)
	PIDs            map[int32]PIDCount
	// Rate counts rows in buckets of RateWidth ns from RateStart, the first
	// row's ts (the first bucket also holds any earlier rows); nil without
	// rows, and its trailing empty buckets may be missing.
	RateStart, RateWidth uint64
	Rate                 []uint64
	// Strings counts rows per value of each utf8 column, by column name.
	Strings map[string]map[string]uint64
}

// PIDCount is one pid's rows and the comm of its latest named row.
type PIDCount struct {
	Rows uint64
	Comm string
}

// errDecline stops a counting pass that must leave the rows to Next.
var errDecline = errors.New("counting pass declined")

// Count counts the rows Next would return without building batches, much
// faster than reading them. ok is false when it declines (see CountOptions
// and the conditions above): r is then untouched, and the caller reads the
// batches instead.
func (r *Reader) Count(o CountOptions) (c *Counts, ok bool) {
	if r.started || r.closed || r.opts.Filter != "" || r.opts.Since != 0 || r.opts.Until != 0 {
		return nil, false
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = 60
	}
	if o.MaxDistinct <= 0 {
		o.MaxDistinct = 2048
	}
	f := r.f
	// The rate's buckets start at the first row Next returns; guess it from
	// the frame index, check it afterwards, and count again in the rare
	// case the guess was wrong.
	spans := make([]frameSpan, len(f.Frames))
	for i, fi := range f.Frames {
		spans[i] = frameSpan{MinTS: fi.FirstNS, MaxTS: fi.LastNS, Rows: int(min(fi.Samples, 1<<40))}
	}
	start, width := r.rateGrid(spans, o.MaxBuckets)
	prog := &passProgress{to: o.Progress}
	// A pass that declines leaves no progress behind.
	defer func() {
		if !ok {
			prog.reset()
		}
	}()
	for try := 0; try < 2; try++ {
		prog.reset()
		res, err := r.countPass(start, width, o, prog)
		if err != nil {
			return nil, false
		}
		if _, ordered := r.mergeOrder(res.spans); !ordered {
			return nil, false
		}
		s2, w2 := r.rateGrid(res.spans, o.MaxBuckets)
		if res.events > 0 && (s2 != start || w2 != width || res.rateOff) {
			start, width = s2, w2
			continue
		}
		c, err := res.counts(r, start, width, o.MaxDistinct)
		if err != nil {
			return nil, false
		}
		return c, true
	}
	return nil, false
}

// rateGrid is where the timeline of the rows of spans starts and the
// bucket width it ends with: the width doubles from 1 ms until every row
// fits in max buckets.
func (r *Reader) rateGrid(spans []frameSpan, max int) (start, width uint64) {
	start, _ = r.mergeOrder(spans)
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

// passProgress serializes the progress reports of a pass's workers.
type passProgress struct {
	to     func(rows uint64, bytes int64) // nil: nobody listens
	mu     sync.Mutex
	events uint64
	bytes  int64
}

// add counts one finished frame.
func (p *passProgress) add(events uint64, bytes int64) {
	if p.to == nil {
		return
	}
	p.mu.Lock()
	p.events += events
	p.bytes += bytes
	p.to(p.events, p.bytes)
	p.mu.Unlock()
}

// reset starts again from zero (a new pass, or a pass declining).
func (p *passProgress) reset() {
	if p.to == nil {
		return
	}
	p.mu.Lock()
	if p.events != 0 || p.bytes != 0 {
		p.events, p.bytes = 0, 0
		p.to(0, 0)
	}
	p.mu.Unlock()
}

// countPID is one pid's count and the comm of its latest named row, that
// row being identified by (ts, frame, position) as Next orders rows.
type countPID struct {
	n     uint64
	ts    uint64
	frame int32
	pos   int32
	comm  int32 // -1: no named row yet
}

func (p *countPID) later(ts uint64, frame, pos int32) bool {
	if ts != p.ts {
		return ts > p.ts
	}
	if frame != p.frame {
		return frame > p.frame
	}
	return pos >= p.pos
}

// countPart is one worker's partial counts.
type countPart struct {
	events, stacks uint64
	perSrc         []uint64
	weights        []uint64 // per source: the sum of the periods
	cpus           []uint64 // by CPU below len(cpus)
	cpuMap         map[uint32]uint64
	comms          []uint64 // by comm index + 1 (0: unnamed)
	pids           map[int32]*countPID
	rate           []uint64
	rateOff        bool // a row fell outside the guessed buckets
	strs           map[int]map[string]uint64
}

// countResult is the merged pass.
type countResult struct {
	countPart
	spans []frameSpan
}

// srcPlan is what the counting pass does with one source's samples.
type srcPlan struct {
	plain     bool // keep && fixedOnly && !strs: only the length to check
	keep      bool
	fixedOnly bool // truncated iff shorter than minLen
	strs      bool // has utf8 fields
	minLen    int
	count     *uint64 // the worker's counter of the source (each worker has its plans)
	weight    *uint64 // the worker's sum of the source's periods
}

// countWorker walks frames into its partial counts. Consecutive samples of
// one task on one CPU from one source (the common case) form a run whose
// per-task counts are added once, when the run ends.
type countWorker struct {
	p            *countPart
	dec          *sampleDecoder
	plans        []srcPlan
	named        []bool
	start, width uint64
	buckets      int
	maxDistinct  int
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
		ent *countPID
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

func (w *countWorker) visit(s *format.Sample) error {
	if s.Source >= uint32(len(w.plans)) {
		return nil
	}
	pl := &w.plans[s.Source]
	if !pl.plain || len(s.Raw) < pl.minLen {
		// Dropped sources, payloads to check field by field, strings.
		if !pl.keep {
			return nil
		}
		if len(s.Raw) < pl.minLen || !pl.fixedOnly && w.dec.truncated(s) {
			return errDecline
		}
		if pl.strs {
			w.dec.stringFields(s, w.addStr)
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
		r.ci, r.from, r.til = w.dec.commSpan(s.PID, s.TID, s.CPU, ts)
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
func (w *countWorker) otherCPU(cpu uint32) {
	p := w.p
	if p.cpuMap == nil {
		p.cpuMap = map[uint32]uint64{}
	}
	p.cpuMap[cpu]++
}

// bucket counts ts in its rate bucket and makes that bucket the current one.
func (w *countWorker) bucket(ts uint64) {
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
		// Grown as rows need it: MaxBuckets may be large.
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
func (w *countWorker) flush(r *sampleRun) {
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
			pe = &countPID{comm: -1}
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
func (w *countWorker) addString(col int, v []byte) {
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
	if len(m) >= w.maxDistinct {
		w.tooMany = true
		return
	}
	m[string(v)] = 1
}

// plans says what the counting pass does with each source's samples.
func (r *Reader) plans() []srcPlan {
	dec := r.newSampleDecoder()
	plans := make([]srcPlan, len(r.f.Header.Sources))
	for i := range plans {
		pl := &plans[i]
		if pl.keep = dec.keeps(uint32(i)); pl.keep {
			pl.minLen, pl.fixedOnly = dec.minLen(uint32(i))
			pl.strs = dec.hasStrings(uint32(i))
			pl.plain = pl.fixedOnly && !pl.strs
		}
	}
	return plans
}

// countPass counts every frame with the rate buckets of start and width.
func (r *Reader) countPass(start, width uint64, o CountOptions, prog *passProgress) (*countResult, error) {
	f := r.f
	nsrc := len(f.Header.Sources)
	names := r.comms.dict
	named := make([]bool, len(names))
	for i, n := range names {
		named[i] = n != ""
	}
	plans := r.plans()
	workers := max(1, min(r.opts.Workers, len(f.Frames)))
	maxRaw := r.maxFrameRaw() // (every frame: no time window)
	spans := make([]frameSpan, len(f.Frames))
	parts := make([]*countPart, workers)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for wi := range workers {
		p := &countPart{
			perSrc: make([]uint64, nsrc), weights: make([]uint64, nsrc), cpus: make([]uint64, 256), comms: make([]uint64, len(names)+1),
			pids: map[int32]*countPID{},
		}
		parts[wi] = p
		wplans := slices.Clone(plans)
		for i := range wplans {
			wplans[i].count = &p.perSrc[i]
			wplans[i].weight = &p.weights[i]
		}
		w := &countWorker{p: p, dec: r.newSampleDecoder(), plans: wplans, named: named, start: start, width: width, buckets: o.MaxBuckets, maxDistinct: o.MaxDistinct}
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
					// Next reports damage as warnings and keeps what it
					// could read: leave it to Next.
					failed.Store(true)
					return
				}
				if w.rows > 0 {
					spans[i] = frameSpan{MinTS: w.minTS, MaxTS: w.maxTS, Rows: w.rows}
				}
				p.events += uint64(w.rows)
				prog.add(uint64(w.rows), f.Frames[i].CSize)
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return nil, errDecline
	}
	res := &countResult{countPart: *parts[0], spans: spans}
	for _, p := range parts[1:] {
		res.merge(p)
	}
	return res, nil
}

// merge adds q's counts to p.
func (p *countPart) merge(q *countPart) {
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

// counts turns the merged pass into Counts.
func (res *countResult) counts(r *Reader, start, width uint64, maxDistinct int) (*Counts, error) {
	c := &Counts{
		Rows: res.events, Stacks: res.stacks, Sources: res.perSrc, Weights: res.weights,
		CPUs: map[uint32]uint64{}, Comms: map[string]uint64{}, PIDs: make(map[int32]PIDCount, len(res.pids)),
	}
	first := true
	for _, sp := range res.spans {
		if sp.Rows == 0 {
			continue
		}
		if first {
			c.FirstNS, c.LastNS, first = sp.MinTS, sp.MaxTS, false
		}
		c.FirstNS = min(c.FirstNS, sp.MinTS)
		c.LastNS = max(c.LastNS, sp.MaxTS)
	}
	for cpu, n := range res.cpus {
		if n > 0 {
			c.CPUs[uint32(cpu)] += n
		}
	}
	for cpu, n := range res.cpuMap {
		c.CPUs[cpu] += n
	}
	names := r.comms.dict
	commName := func(ci int32) string {
		if ci < 0 {
			return ""
		}
		return names[ci]
	}
	for i, n := range res.comms {
		if n > 0 {
			c.Comms[commName(int32(i)-1)] += n
		}
	}
	for pid, pe := range res.pids {
		c.PIDs[pid] = PIDCount{Rows: pe.n, Comm: commName(pe.comm)}
	}
	if res.events > 0 {
		c.RateStart, c.RateWidth, c.Rate = start, width, res.rate
	}
	for col, m := range res.strs {
		if len(m) > maxDistinct {
			return nil, errDecline
		}
		if c.Strings == nil {
			c.Strings = map[string]map[string]uint64{}
		}
		c.Strings[r.schema.Field(col).Name] = m
	}
	return c, nil
}

// maxFrameRaw is the size of a decompression buffer for r's frames: the
// largest frame's, as the index gives it (bounded by format.MaxFrameRaw).
// One such buffer per worker spares the copies, page faults and garbage
// collections of growing it frame by frame; a frame larger than its index
// entry says fails to read.
func (r *Reader) maxFrameRaw() int64 {
	var n int64
	for _, i := range r.frames {
		n = max(n, r.f.Frames[i].RawSize)
	}
	return min(n, format.MaxFrameRaw)
}
