package flame

import (
	"fmt"
	"io"

	"github.com/google/pprof/profile"
)

// PprofOptions describe the profile's sample type.
type PprofOptions struct {
	SampleType string // "samples" or "latency"
	Unit       string // "count" or "nanoseconds"
	DurationNS int64  // capture duration, shown by pprof
	TimeNanos  int64  // capture start, wall clock
	Comments   []string
}

// WritePprof writes p as a gzipped profile.proto that `go tool pprof` reads.
// Each distinct frame name becomes one function and one location.
func WritePprof(w io.Writer, p *Profile, o PprofOptions) error {
	if o.SampleType == "" {
		o.SampleType = "samples"
	}
	if o.Unit == "" {
		o.Unit = "count"
	}
	prof := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: o.SampleType, Unit: o.Unit}},
		PeriodType:    &profile.ValueType{Type: o.SampleType, Unit: o.Unit},
		Period:        1,
		DurationNanos: o.DurationNS,
		TimeNanos:     o.TimeNanos,
		Comments:      o.Comments,
	}
	locs := map[string]*profile.Location{}
	loc := func(name string) *profile.Location {
		if l, ok := locs[name]; ok {
			return l
		}
		id := uint64(len(locs) + 1)
		fn := &profile.Function{ID: id, Name: name, SystemName: name}
		l := &profile.Location{ID: id, Line: []profile.Line{{Function: fn}}}
		prof.Function = append(prof.Function, fn)
		prof.Location = append(prof.Location, l)
		locs[name] = l
		return l
	}
	for _, s := range p.Stacks() {
		fr := s.Frames()
		ls := make([]*profile.Location, len(fr))
		for i, f := range fr {
			ls[len(fr)-1-i] = loc(f) // pprof lists the leaf first
		}
		prof.Sample = append(prof.Sample, &profile.Sample{Location: ls, Value: []int64{int64(s.Value)}})
	}
	if err := prof.CheckValid(); err != nil {
		return fmt.Errorf("build pprof profile: %w", err)
	}
	return prof.Write(w)
}
