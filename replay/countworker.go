package replay

import "github.com/kpcap/kpcap/format"

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
