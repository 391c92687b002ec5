package analyze

import (
	"cmp"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/format"
)

// SummaryOptions shape a summary.
type SummaryOptions struct {
	TopN       int // rows in the comm, pid and field-value tables; default 10
	MaxBuckets int // rate buckets; default 60
}

// Summary is the overview of one trace.
type Summary struct {
	File        string         `json:"file"`
	Application string         `json:"application"`
	Host        format.Host    `json:"host"`
	Capture     format.Capture `json:"capture"`
	Notes       []string       `json:"notes,omitempty"`
	Warnings    []string       `json:"warnings,omitempty"`
	FirstNS     uint64         `json:"first_ns"`
	LastNS      uint64         `json:"last_ns"`
	DurationNS  uint64         `json:"duration_ns"`
	Events      uint64         `json:"events"`
	Lost        Loss           `json:"loss"`
	LostTotal   uint64         `json:"lost"`
	Sources     []SourceCount  `json:"sources"`
	CPUs        []CPUCount     `json:"cpus"`
	Comms       []NameCount    `json:"comms"`
	PIDs        []PIDCount     `json:"pids"`
	// Cgroups counts events per cgroup, for files recorded with --cgroup.
	Cgroups []NameCount `json:"cgroups,omitempty"`
	Rate    Timeline    `json:"rate"`
	Fields  []FieldTop  `json:"fields,omitempty"`
	// StacksWith counts events that carry a call stack.
	StacksWith uint64 `json:"events_with_stack"`
}

// SourceCount is one source's event count.
type SourceCount struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	Target     string  `json:"target,omitempty"`
	Events     uint64  `json:"events"`
	RatePerSec float64 `json:"rate_per_sec"`
	Lost       uint64  `json:"lost"`
	// Period sums the events' periods: what a counted tracepoint counts
	// (sched_stat_runtime: ns of runtime). Set when it differs from Events.
	Period uint64 `json:"period,omitempty"`
}

// CPUCount is one CPU's events and ring loss.
type CPUCount struct {
	CPU    uint32 `json:"cpu"`
	Events uint64 `json:"events"`
	Lost   uint64 `json:"lost"`
}

// NameCount is a name (comm, field value) and its count.
type NameCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// PIDCount is one process's events; Comm is its latest command name.
type PIDCount struct {
	PID    int32  `json:"pid"`
	Comm   string `json:"comm"`
	Events uint64 `json:"events"`
}

// FieldTop lists the most frequent values of one string field.
type FieldTop struct {
	Field  string      `json:"field"`
	Values []NameCount `json:"values"`
	// Approximate is set when more distinct values were seen than kept:
	// counts are then lower bounds, short by at most MaxError.
	Approximate bool   `json:"approximate"`
	MaxError    uint64 `json:"max_error,omitempty"`
}

type pidKey struct {
	pid  int32
	comm string
}

type summaryAcc struct {
	opts    SummaryOptions
	s       *Summary
	perSrc  []uint64
	weights []uint64 // per source: the sum of the periods
	unknown uint64   // events whose probe is not in the header
	perCPU  map[uint32]uint64
	comms   map[string]uint64
	pids    map[int32]*pidCount
	rate    *timeline
	fields  map[string]*topK
	in      interner
	first   bool
	dictBuf []uint64
	file    *format.File
	cgroups map[string]uint64 // nil unless the file records cgroups
}

type pidCount struct {
	comm string
	n    uint64
}

func newSummaryAcc(o SummaryOptions) *summaryAcc {
	if o.TopN <= 0 {
		o.TopN = 10
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = 60
	}
	return &summaryAcc{
		opts: o, s: &Summary{}, perCPU: map[uint32]uint64{}, comms: map[string]uint64{},
		pids: map[int32]*pidCount{}, rate: newTimeline(o.MaxBuckets), fields: map[string]*topK{},
		in: interner{}, first: true,
	}
}

func (a *summaryAcc) begin(in Input) error {
	a.perSrc = make([]uint64, len(in.File().Header.Sources))
	a.file = in.File()
	if a.file.HasCgroups() {
		a.cgroups = map[string]uint64{}
	}
	a.weights = make([]uint64, len(in.File().Header.Sources))
	return nil
}

func (a *summaryAcc) add(b *batch) error {
	perDict := a.countRows(b)
	a.foldComms(b, perDict)
	a.topValues(b)
	return nil
}

// countRows counts the batch's rows per source, CPU, comm, pid and
// cgroup; a dictionary-encoded comm column is counted per dictionary
// index (the last slot counts nulls) into the returned slice.
func (a *summaryAcc) countRows(b *batch) []uint64 {
	s := a.s
	var perDict []uint64
	if b.comm.dict != nil {
		n := b.comm.vals.Len() + 1
		if cap(a.dictBuf) < n {
			a.dictBuf = make([]uint64, n)
		}
		perDict = a.dictBuf[:n]
		clear(perDict)
	}
	for i := 0; i < b.n; i++ {
		ts := b.ts.Value(i)
		if a.first {
			s.FirstNS, a.first = ts, false
		}
		s.FirstNS = min(s.FirstNS, ts)
		s.LastNS = max(s.LastNS, ts)
		s.Events++
		if src := b.srcOf(i); src >= 0 {
			a.perSrc[src]++
			a.weights[src] += b.weight(i)
		} else {
			a.unknown++
		}
		a.perCPU[b.cpu.Value(i)]++
		a.rate.add(ts, 1)
		if b.stackID(i) >= 0 {
			s.StacksWith++
		}
		comm := b.comm.value(i)
		if perDict != nil {
			if b.comm.valid(i) {
				perDict[b.comm.index(i)]++
			} else {
				perDict[len(perDict)-1]++
			}
		} else if c, ok := a.comms[comm]; ok {
			a.comms[comm] = c + 1
		} else {
			a.comms[a.in.get(comm)] = 1
		}
		pid := b.pid.Value(i)
		pc := a.pids[pid]
		if pc == nil {
			pc = &pidCount{comm: a.in.get(comm)}
			a.pids[pid] = pc
		} else if pc.comm != comm && comm != "" {
			pc.comm = a.in.get(comm) // the latest name: after exec
		}
		pc.n++
		if a.cgroups != nil {
			cg, ok := a.file.CgroupOf(uint32(b.tid.Value(i)), ts)
			if !ok {
				cg = "(unknown)"
			}
			a.cgroups[cg]++
		}
	}
	return perDict
}

// foldComms adds the per-dictionary-index comm counts to the comms, once
// per batch.
func (a *summaryAcc) foldComms(b *batch, perDict []uint64) {
	for di, c := range perDict {
		if c == 0 {
			continue
		}
		comm := ""
		if di < len(perDict)-1 && b.comm.vals.IsValid(di) {
			comm = b.comm.vals.Value(di)
		}
		if _, ok := a.comms[comm]; !ok {
			comm = a.in.get(comm)
		}
		a.comms[comm] += c
	}
}

// topValues counts the values of the batch's string fields.
func (a *summaryAcc) topValues(b *batch) {
	for ci, f := range b.rec.Schema().Fields() {
		if commonColumns[f.Name] || !isStringType(f.Type) {
			continue
		}
		tk := a.fields[f.Name]
		if tk == nil {
			tk = newTopK(topKCapacity)
			a.fields[f.Name] = tk
		}
		col := b.rec.Column(ci)
		for i := 0; i < b.n; i++ {
			if v, ok := valueString(col, i); ok {
				tk.add(v)
			}
		}
	}
}

func isStringType(t arrow.DataType) bool {
	switch x := t.(type) {
	case *arrow.StringType, *arrow.LargeStringType:
		return true
	case *arrow.DictionaryType:
		return isStringType(x.ValueType)
	}
	return false
}

// finish fills the summary from the counts and the file's header, loss
// records and warnings once every row is in.
func (a *summaryAcc) finish(in Input) error {
	f := in.File()
	s := a.s
	s.Application = f.Header.Application
	s.Host = f.Header.Host
	s.Capture = f.Header.Capture
	s.Notes = f.Header.Notes
	s.Warnings = append(s.Warnings, inputWarnings(in)...)
	if s.Events > 0 {
		s.DurationNS = s.LastNS - s.FirstNS
	}
	s.Lost = lossOfInput(in)
	s.LostTotal = s.Lost.Total
	a.finishSources(f.Header.Sources)
	a.finishCPUs()
	a.finishTops()
	since, until := windowOf(in)
	for _, l := range f.Lost {
		if l.Time >= since && (until == 0 || l.Time < until) {
			a.rate.addLost(l.Time, l.Count)
		}
	}
	s.Rate = a.rate.result()
	a.finishFields()
	return nil
}

// finishSources lists the events, weight, rate and loss of every source,
// then the events of sources the header does not name.
func (a *summaryAcc) finishSources(sources []format.Source) {
	s := a.s
	secs := float64(s.DurationNS) / 1e9
	for i, src := range sources {
		sc := SourceCount{Name: src.Name, Kind: src.Kind.String(), Target: src.Target, Events: a.perSrc[i], Lost: s.Lost.source(src.Name)}
		if a.weights[i] != a.perSrc[i] {
			sc.Period = a.weights[i]
		}
		if secs > 0 {
			sc.RatePerSec = float64(sc.Events) / secs
		}
		s.Sources = append(s.Sources, sc)
	}
	if a.unknown > 0 {
		s.Sources = append(s.Sources, SourceCount{Name: "(not in header)", Kind: "unknown", Events: a.unknown})
	}
}

// finishCPUs lists the events and ring-buffer loss of every CPU, those
// that only lost samples included, in CPU order.
func (a *summaryAcc) finishCPUs() {
	s := a.s
	ringByCPU := map[uint32]uint64{}
	for _, l := range s.Lost.ByCPU {
		ringByCPU[l.CPU] = l.Count
	}
	for cpu, n := range a.perCPU {
		s.CPUs = append(s.CPUs, CPUCount{CPU: cpu, Events: n, Lost: ringByCPU[cpu]})
		delete(ringByCPU, cpu)
	}
	for cpu, l := range ringByCPU {
		s.CPUs = append(s.CPUs, CPUCount{CPU: cpu, Lost: l})
	}
	slices.SortFunc(s.CPUs, func(x, y CPUCount) int { return cmp.Compare(x.CPU, y.CPU) })
}

// finishTops keeps the TopN commands, cgroups and processes by events.
func (a *summaryAcc) finishTops() {
	s := a.s
	for c, n := range a.comms {
		s.Comms = append(s.Comms, NameCount{c, n})
	}
	s.Comms = topNames(s.Comms, a.opts.TopN)
	for c, n := range a.cgroups {
		s.Cgroups = append(s.Cgroups, NameCount{c, n})
	}
	s.Cgroups = topNames(s.Cgroups, a.opts.TopN)
	for pid, pc := range a.pids {
		s.PIDs = append(s.PIDs, PIDCount{PID: pid, Comm: pc.comm, Events: pc.n})
	}
	slices.SortFunc(s.PIDs, func(x, y PIDCount) int {
		return cmp.Or(cmp.Compare(y.Events, x.Events), cmp.Compare(x.PID, y.PID))
	})
	if len(s.PIDs) > a.opts.TopN {
		s.PIDs = s.PIDs[:a.opts.TopN]
	}
}

// finishFields keeps the TopN values of each string field, fields in name
// order.
func (a *summaryAcc) finishFields() {
	s := a.s
	names := make([]string, 0, len(a.fields))
	for n := range a.fields {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		tk := a.fields[n]
		if len(tk.counts) == 0 {
			continue
		}
		ft := FieldTop{Field: n, Approximate: tk.maxErr > 0, MaxError: tk.maxErr}
		for v, c := range tk.counts {
			ft.Values = append(ft.Values, NameCount{v, c})
		}
		ft.Values = topNames(ft.Values, a.opts.TopN)
		s.Fields = append(s.Fields, ft)
	}
}

// Summarize reads in once and returns its summary. A fresh *replay.Reader
// (or a wrapper embedding one) without --filter or time window is counted
// by the fast path of summary_fast.go; anything else goes through batches.
func Summarize(in Input, o SummaryOptions) (*Summary, error) {
	if s, ok, err := summarizeFast(in, o); ok || err != nil {
		return s, err
	}
	return summarizeBatches(in, o)
}

// summarizeBatches summarizes the replay batches of in.
func summarizeBatches(in Input, o SummaryOptions) (*Summary, error) {
	a := newSummaryAcc(o)
	if err := run(in, a); err != nil {
		return nil, err
	}
	return a.s, nil
}
