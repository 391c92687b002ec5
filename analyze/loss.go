package analyze

import (
	"slices"

	"github.com/kpcap/kpcap/format"
)

// Loss is what a trace lost over the interval an analysis covers.
type Loss struct {
	// Total is the count of lost samples in the interval: for the whole
	// capture the file's one total (format.File.LostTotal, the same in
	// every command); for a time window RingLost, as the statistics blocks
	// only count per capture.
	Total uint64 `json:"total"`
	// Window is set when the analysis covers [SinceNS, UntilNS) only
	// (UntilNS 0 = to the end); CaptureTotal is then the whole capture's loss.
	Window       bool   `json:"window,omitempty"`
	SinceNS      uint64 `json:"since_ns,omitempty"`
	UntilNS      uint64 `json:"until_ns,omitempty"`
	CaptureTotal uint64 `json:"capture_total"`
	// RingLost sums the file's loss records (PERF_RECORD_LOST and the like)
	// whose time falls in the interval.
	RingLost uint64 `json:"ring_lost"`
	// SourceDropped sums the per-source dropped counts of the statistics
	// blocks (whole capture; kretprobe misses included).
	SourceDropped uint64 `json:"source_dropped"`
	// ByCPU lists ring loss per CPU (CPUs with loss only); NoCPU is the
	// loss not tied to a CPU (e.g. kretprobe misses).
	ByCPU []CPULoss `json:"by_cpu,omitempty"`
	NoCPU uint64    `json:"no_cpu,omitempty"`
	// BySource lists loss per source name (sources with loss only).
	BySource []SourceLoss `json:"by_source,omitempty"`
}

// CPULoss is the loss of one CPU's ring.
type CPULoss struct {
	CPU   uint32 `json:"cpu"`
	Count uint64 `json:"count"`
}

// SourceLoss is the loss attributed to one source.
type SourceLoss struct {
	Source string `json:"source"`
	Count  uint64 `json:"count"`
}

// Windowed is implemented by inputs limited to a time window: [since,
// until) on the capture clock, until 0 meaning the end.
type Windowed interface {
	Window() (since, until uint64)
}

// windowOf is the input's time window, (0, 0) for the whole capture.
func windowOf(in Input) (since, until uint64) {
	if w, ok := in.(Windowed); ok {
		return w.Window()
	}
	return 0, 0
}

// lossOfInput is the loss in the window the input covers.
func lossOfInput(in Input) Loss {
	since, until := windowOf(in)
	return lossOf(in.File(), since, until)
}

// lossOf computes the loss of f within [since, until) (until 0 = no end).
// Stats blocks cover the whole capture, so they count whenever the interval
// overlaps it.
func lossOf(f *format.File, since, until uint64) Loss {
	var l Loss
	byCPU := map[uint32]uint64{}
	bySrc := map[uint32]uint64{}
	for _, r := range f.Lost {
		if r.Time < since || (until != 0 && r.Time >= until) {
			continue
		}
		l.RingLost += r.Count
		if r.CPU == ^uint32(0) {
			l.NoCPU += r.Count
		} else {
			byCPU[r.CPU] += r.Count
		}
		if r.Source != ^uint32(0) {
			bySrc[r.Source] += r.Count
		}
	}
	statSrc := map[uint32]uint64{}
	for _, s := range f.Stats {
		l.SourceDropped += s.Dropped
		if s.Dropped > 0 {
			statSrc[s.Source] += s.Dropped
		}
	}
	l.Total = f.LostTotal()
	if since != 0 || until != 0 {
		l.Window, l.SinceNS, l.UntilNS = true, since, until
		l.CaptureTotal = l.Total
		l.Total = l.RingLost
	} else {
		l.CaptureTotal = l.Total
	}
	for cpu, c := range byCPU {
		l.ByCPU = append(l.ByCPU, CPULoss{cpu, c})
	}
	slices.SortFunc(l.ByCPU, func(a, b CPULoss) int { return int(a.CPU) - int(b.CPU) })
	for src := range f.Header.Sources {
		c := statSrc[uint32(src)]
		if f.StatsRecomputed || l.Window {
			c = max(c, bySrc[uint32(src)])
		}
		if c > 0 {
			l.BySource = append(l.BySource, SourceLoss{f.Header.Sources[src].Name, c})
		}
	}
	return l
}

// sourceLoss is the loss attributed to source index i.
func (l Loss) source(name string) uint64 {
	for _, s := range l.BySource {
		if s.Source == name {
			return s.Count
		}
	}
	return 0
}
