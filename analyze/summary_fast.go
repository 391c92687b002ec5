package analyze

import "github.com/kpcap/kpcap/replay"

// The summary's fast path is replay's counting pass (Reader.Count): it
// counts straight off the file's samples, without building batches. It
// gives exactly what the batch path (summaryAcc over replay batches) gives:
// where it would not, Count declines, and so does the fast path for what
// only the summary knows (per-cgroup counts, the input's time window).

// counter is what the fast path needs of the input: *replay.Reader (and
// wrappers embedding it) provide it.
type counter interface {
	Count(replay.CountOptions) (*replay.Counts, bool)
}

// maxDistinct is how many distinct values of a field topK counts exactly.
const maxDistinct = 2 * topKCapacity

// summarizeFast returns ok false when the batch path must run instead
// (nothing of in has been consumed then).
func summarizeFast(in Input, o SummaryOptions) (s *Summary, ok bool, err error) {
	src, isSrc := in.(counter)
	f := in.File()
	if !isSrc || f == nil || f.HasCgroups() {
		// (per-cgroup counts are the batch path's)
		return nil, false, nil
	}
	if since, until := windowOf(in); since != 0 || until != 0 {
		return nil, false, nil
	}
	a := newSummaryAcc(o)
	if err := a.begin(in); err != nil {
		return nil, false, err
	}
	co := replay.CountOptions{MaxBuckets: a.opts.MaxBuckets, MaxDistinct: maxDistinct}
	if pr, ok := in.(ProgressReporter); ok {
		co.Progress = pr.PassProgress
	}
	c, ok := src.Count(co)
	if !ok {
		return nil, false, nil
	}
	a.fill(c)
	if err := a.finish(in); err != nil {
		return nil, false, err
	}
	return a.s, true, nil
}

// fill puts the counts into a as the batch path would have left them.
func (a *summaryAcc) fill(c *replay.Counts) {
	s := a.s
	s.Events = c.Rows
	s.StacksWith = c.Stacks
	s.FirstNS, s.LastNS = c.FirstNS, c.LastNS
	// Samples count under the first source of their name, as the batch
	// path maps the probe column's names to sources.
	srcIdx := sourceIndex(a.file)
	for i, src := range a.file.Header.Sources {
		a.perSrc[srcIdx[src.Name]] += c.Sources[i]
		a.weights[srcIdx[src.Name]] += c.Weights[i]
	}
	for cpu, n := range c.CPUs {
		a.perCPU[cpu] += n
	}
	for comm, n := range c.Comms {
		a.comms[comm] += n
	}
	for pid, pc := range c.PIDs {
		a.pids[pid] = &pidCount{comm: pc.Comm, n: pc.Rows}
	}
	if c.Rows > 0 {
		a.rate.start, a.rate.width, a.rate.seen = c.RateStart, c.RateWidth, true
		last := uint64(0)
		if s.LastNS > c.RateStart {
			last = (s.LastNS - c.RateStart) / c.RateWidth
		}
		a.rate.events = make([]uint64, last+1)
		copy(a.rate.events, c.Rate)
	}
	for col, m := range c.Strings {
		a.fields[col] = &topK{capacity: topKCapacity, counts: m}
	}
}
