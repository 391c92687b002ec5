package analyze

import (
	"cmp"
	"slices"
	"strconv"
)

// tlLanes maps the tracked threads and CPUs to their lanes of the result.
type tlLanes struct {
	thread, cpu           []int // lane of each tracked thread, each tracked CPU
	otherThread, otherCPU int   // the folded lanes, -1 when absent
}

func (l *tlLanes) ofThread(t int) int {
	if t < 0 {
		return l.otherThread
	}
	return l.thread[t]
}

func (l *tlLanes) ofCPU(c int) int {
	if c < 0 {
		return l.otherCPU
	}
	return l.cpu[c]
}

// sliceKey tells a slice apart from the others.
type sliceKey struct {
	start, dur uint64
	fn, thread int
}

func (s *tlSlice) key() sliceKey { return sliceKey{s.start, s.dur, s.fn, s.thread} }

// finish lays out the lanes and writes the kept items as columns.
func (a *timelineAcc) finish(in Input) error {
	r := a.res
	r.StartNS, r.BucketNS, r.WindowNS, r.Stride = a.origin, a.width, a.window, a.stride
	if a.seen && a.last > a.origin {
		r.SpanNS = a.last - a.origin
	}
	r.WallOffsetNS = in.File().Header.Host.WallOffsetNS
	loss := a.losses(in)
	// Lanes: CPUs in order, the busiest threads, the folded rest, loss.
	var lanes tlLanes
	a.cpuLanes(&lanes)
	a.threadLanes(&lanes)
	r.Lanes = append(r.Lanes, TimelineLane{Kind: "loss", Name: "lost samples", Events: loss.events, Density: loss.density})
	coarsen(r)
	a.keepOutliers()
	slices.SortStableFunc(a.slices, func(x, y tlSlice) int { return cmp.Compare(x.start, y.start) })
	slices.SortStableFunc(a.ticks, func(x, y tlTick) int { return cmp.Compare(x.t, y.t) })
	r.OmittedSlices = r.Pairs - min(r.Pairs, uint64(len(a.slices)))
	r.OmittedInstants = r.InstantsTotal - min(r.InstantsTotal, uint64(len(a.ticks)))
	a.writeItems(&lanes)
	if r.TruncatedNS != 0 {
		r.TruncatedNS = a.off(r.TruncatedNS)
	}
	r.fillEmpty()
	return nil
}

// losses adds the loss records of the read window as ticks (up to a
// bound) and returns the loss lane's density.
func (a *timelineAcc) losses(in Input) tlThread {
	r := a.res
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
	return loss
}

// cpuLanes adds a lane per tracked CPU in CPU order, then one for the
// CPUs past the tracking bound.
func (a *timelineAcc) cpuLanes(lanes *tlLanes) {
	r := a.res
	lanes.cpu = make([]int, len(a.cpus))
	order := make([]int, len(a.cpus))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Compare(a.cpus[x].cpu, a.cpus[y].cpu) })
	for _, c := range order {
		lanes.cpu[c] = len(r.Lanes)
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "cpu", Name: "CPU " + strconv.FormatUint(uint64(a.cpus[c].cpu), 10), CPU: a.cpus[c].cpu, Events: a.cpus[c].events, Density: a.cpus[c].density})
	}
	lanes.otherCPU = -1
	if a.otherCPU.events > 0 {
		lanes.otherCPU = len(r.Lanes)
		r.FoldedCPUs = 1 // at least; CPUs past the bound are not counted one by one
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "cpus", Name: "other CPUs", Events: a.otherCPU.events, Density: a.otherCPU.density})
	}
}

// threadLanes adds a lane for each of the busiest threads, then one
// folding the others and the threads past the tracking bound.
func (a *timelineAcc) threadLanes(lanes *tlLanes) {
	r := a.res
	byBusy := make([]int, len(a.threads))
	for i := range byBusy {
		byBusy[i] = i
	}
	slices.SortStableFunc(byBusy, func(x, y int) int { return cmp.Compare(a.threads[y].events, a.threads[x].events) })
	lanes.thread = make([]int, len(a.threads))
	lanes.otherThread = -1
	if len(a.threads) > a.o.ThreadLanes || a.other.events > 0 {
		lanes.otherThread = len(r.Lanes) + min(len(a.threads), a.o.ThreadLanes)
	}
	folded := a.other
	for rank, t := range byBusy {
		th := a.threads[t]
		if rank >= a.o.ThreadLanes {
			lanes.thread[t] = lanes.otherThread
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
		lanes.thread[t] = len(r.Lanes)
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "thread", Name: th.laneName(), CPU: th.cpu, PID: th.pid, TID: th.tid, Events: th.events, Density: th.density})
	}
	if lanes.otherThread >= 0 {
		if a.other.events > 0 {
			r.FoldedThreads++ // at least one thread past the tracking bound
		}
		r.Lanes = append(r.Lanes, TimelineLane{Kind: "threads", Name: "other threads (" + strconv.Itoa(r.FoldedThreads) + ")", Events: folded.events, Density: folded.density})
	}
}

// laneName is "COMM TID", "COMM 0 (CPU N)" for an idle task.
func (th *tlThread) laneName() string {
	comm := th.comm
	if comm == "" {
		comm = "tid"
	}
	if th.tid == 0 {
		return comm + " 0 (CPU " + strconv.FormatUint(uint64(th.cpu), 10) + ")"
	}
	return comm + " " + strconv.Itoa(int(th.tid))
}

// coarsen halves every lane's density buckets until all lanes together
// fit maxDensityCells.
func coarsen(r *EventTimeline) {
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
}

// keepOutliers adds the outliers whose window was not kept to the slices.
func (a *timelineAcc) keepOutliers() {
	kept := map[sliceKey]bool{}
	for _, o := range a.outliers {
		for _, s := range o {
			kept[s.key()] = false
		}
	}
	for _, s := range a.slices {
		k := s.key()
		if _, ok := kept[k]; ok {
			kept[k] = true
		}
	}
	for _, o := range a.outliers {
		for _, s := range o {
			if k := s.key(); !kept[k] {
				kept[k] = true
				a.slices = append(a.slices, s)
			}
		}
	}
}

// writeItems writes the kept slices, the outliers' indices among them
// and the kept instants as the result's columns.
func (a *timelineAcc) writeItems(lanes *tlLanes) {
	r := a.res
	at := map[sliceKey]int{}
	for i, s := range a.slices {
		at[s.key()] = i
		r.Slices.Lane = append(r.Slices.Lane, lanes.ofThread(s.thread))
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
			r.Outliers[fn] = append(r.Outliers[fn], at[s.key()])
		}
	}
	for _, t := range a.ticks {
		r.Instants.Lane = append(r.Instants.Lane, lanes.ofThread(t.thread))
		r.Instants.CPULane = append(r.Instants.CPULane, lanes.ofCPU(t.cpu))
		r.Instants.T = append(r.Instants.T, a.off(t.t))
		r.Instants.Src = append(r.Instants.Src, t.src)
		r.Instants.Text = append(r.Instants.Text, t.text)
	}
}

// fillEmpty makes the empty columns empty lists in JSON, not null.
func (r *EventTimeline) fillEmpty() {
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
}
