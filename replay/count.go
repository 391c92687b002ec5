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
