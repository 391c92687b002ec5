package analyze

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/analyze/latency"
	"github.com/kpcap/kpcap/replay"
)

// FlameOptions shape a flame graph profile.
type FlameOptions struct {
	// Weight is "samples" (each event counts 1), "period" (each event
	// counts its period: a counted tracepoint's count, such as
	// sched_stat_runtime's ns; 1 for the others) or "latency" (each paired
	// entry's stack weighs its duration in ns; see LatencyOptions).
	Weight  string
	Latency LatencyOptions
	// NoComm leaves out the command-name root frame.
	NoComm bool
}

// Flame is a stack profile of a trace.
type Flame struct {
	Profile *flame.Profile
	// Events counts the events (or pairs) weighed; NoStack those of them
	// without a recorded stack (drawn as "[no stack]" above their source).
	Events  uint64
	NoStack uint64
	Lost    Loss
	// Latency is set when weighted by latency: the pairing behind it,
	// with its unmatched counts.
	Latency    *Latency
	DurationNS uint64
	// Warnings are the file's and decoder's (truncation, corrupt frames).
	Warnings []string
}

type stackKey struct {
	comm string
	id   int64
	src  int
}

type flameAcc struct {
	o      FlameOptions
	counts map[stackKey]uint64
	in     interner
	res    *Flame
	lat    *latencyAcc
	srcs   []string
	first  uint64
	last   uint64
	seen   bool
}

func newFlameAcc(o FlameOptions) (*flameAcc, error) {
	a := &flameAcc{o: o, counts: map[stackKey]uint64{}, in: interner{}, res: &Flame{}}
	switch o.Weight {
	case "", "samples":
		a.res.Profile = flame.New("samples")
	case "period":
		a.res.Profile = flame.New("period")
	case "latency":
		a.res.Profile = flame.New("nanoseconds")
		lo := o.Latency
		lo.By = "comm" // carries the entry's comm to the pair
		lo.pairs = func(p latency.Pair) {
			a.counts[stackKey{p.Group, p.StackID, -1}] += p.Dur
			a.res.Events++
		}
		a.lat = newLatencyAcc(lo)
	default:
		return nil, fmt.Errorf("unknown weight %q (want samples, period or latency)", o.Weight)
	}
	return a, nil
}

func (a *flameAcc) begin(in Input) error {
	for _, s := range in.File().Header.Sources {
		a.srcs = append(a.srcs, s.Name)
	}
	if a.lat != nil {
		return a.lat.begin(in)
	}
	return nil
}

func (a *flameAcc) add(b *batch) error {
	if b.n > 0 {
		lo, hi := b.ts.Value(0), b.ts.Value(b.n-1)
		if !a.seen {
			a.first, a.seen = lo, true
		}
		a.first = min(a.first, lo)
		a.last = max(a.last, hi)
	}
	if a.lat != nil {
		return a.lat.add(b)
	}
	for i := 0; i < b.n; i++ {
		k := stackKey{comm: a.in.get(b.comm.value(i)), id: b.stackID(i), src: -1}
		if k.id < 0 {
			k.src = b.srcOf(i)
			a.res.NoStack++
		}
		if a.o.Weight == "period" {
			a.counts[k] += b.weight(i)
		} else {
			a.counts[k]++
		}
		a.res.Events++
	}
	return nil
}

func (a *flameAcc) finish(in Input) error {
	if a.lat != nil {
		if err := a.lat.finish(in); err != nil {
			return err
		}
		a.res.Latency = a.lat.res
	}
	a.res.Lost = lossOfInput(in)
	a.res.Warnings = inputWarnings(in)
	if a.seen {
		a.res.DurationNS = a.last - a.first
	}
	keys := make([]stackKey, 0, len(a.counts))
	for k := range a.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y stackKey) int {
		return cmp.Or(cmp.Compare(x.id, y.id), strings.Compare(x.comm, y.comm), cmp.Compare(x.src, y.src))
	})
	// Keys are sorted by stack id, so one stack's folded frames serve every
	// comm that shares it; keeping those of every stack would hold a string
	// header per frame of the whole file.
	var frames, st []string
	lastID := int64(-1)
	for _, k := range keys {
		frames = frames[:0]
		if !a.o.NoComm {
			comm := k.comm
			if comm == "" {
				comm = "[unknown comm]"
			}
			frames = append(frames, comm)
		}
		if k.id < 0 {
			if a.lat != nil { // pairs weigh durations: count them here
				a.res.NoStack += a.counts[k]
			}
			if k.src >= 0 && k.src < len(a.srcs) {
				frames = append(frames, "["+a.srcs[k.src]+"]")
			}
			frames = append(frames, "[no stack]")
		} else {
			if k.id != lastID {
				st = foldFrames(st[:0], in.Stack(k.id))
				lastID = k.id
			}
			frames = append(frames, st...)
		}
		a.res.Profile.Add(frames, a.counts[k])
	}
	return nil
}

// foldFrames appends to dst the names of a stack's frames, root first
// (replay gives them leaf first).
func foldFrames(dst []string, st []replay.Frame) []string {
	for i := len(st) - 1; i >= 0; i-- {
		dst = append(dst, frameName(st[i]))
	}
	return dst
}

// frameName is the function, or "[object]" when only the mapping is known,
// as perf prints unresolved frames.
func frameName(f replay.Frame) string {
	if f.Name != "" && f.Name != "[unknown]" {
		return f.Name
	}
	if f.Module != "" {
		return "[" + filepath.Base(f.Module) + "]"
	}
	if f.Kernel {
		return "[unknown kernel]"
	}
	return "[unknown]"
}

// BuildFlame reads in once and aggregates its stacks.
func BuildFlame(in Input, o FlameOptions) (*Flame, error) {
	a, err := newFlameAcc(o)
	if err != nil {
		return nil, err
	}
	if err := run(in, a); err != nil {
		return nil, err
	}
	return a.res, nil
}
