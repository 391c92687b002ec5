package format

import (
	"cmp"
	"slices"

	"github.com/kpcap/kpcap/format/warn"
)

// finish assembles sources and stats once all metadata is read.
func (f *File) finish() {
	srcs := make([]Source, min(len(f.idbs), MaxSources)) // past it, a marker
	copy(srcs, f.idbs)
	switch {
	case len(f.gotSrcs) == len(srcs):
		for i, g := range f.gotSrcs {
			srcs[i] = Source{Name: g.Name, Kind: kindByName(g.Kind), Definition: g.Definition,
				Filter: g.Filter, Target: g.Target, Format: g.Format, Created: g.Created, Fields: g.Fields, Path: g.Path}
		}
	case len(srcs) > 0:
		f.warn("event source details missing (%d described for %d interfaces); using interface names only", len(f.gotSrcs), len(srcs))
	}
	f.Header.Sources = srcs
	f.nsrc = len(srcs)

	slices.SortStableFunc(f.Symbols, func(a, b Symbol) int { return cmp.Compare(a.Addr, b.Addr) })

	lostBy := map[uint32]uint64{}
	for _, l := range f.Lost {
		lostBy[l.Source] += l.Count
	}
	missing := false
	f.Stats = make([]Stats, len(srcs))
	for i := range f.Stats {
		if st, ok := f.isbs[uint32(i)]; ok {
			f.Stats[i] = st
		} else {
			missing = true
		}
	}
	if missing && f.scanCounts == nil && len(srcs) > 0 {
		// Indexed file without ISBs (not written by kpcap's Close): count.
		f.scanCounts = map[uint32]*Stats{}
		var buf []byte
		for i := range f.Frames {
			var err error
			buf, err = f.ReadFrame(i, buf)
			if err == nil {
				_, err = scanSamples(buf, &FrameInfo{}, f.scanCounts)
			}
			if err != nil {
				f.warn("counting samples: %v", err)
			}
		}
	}
	f.StatsRecomputed = missing
	if missing {
		f.warn("interface statistics missing; counts recomputed from the samples and loss records")
		for i := range f.Stats {
			if _, ok := f.isbs[uint32(i)]; ok {
				continue
			}
			st := Stats{Source: uint32(i), Dropped: lostBy[uint32(i)]}
			if c := f.scanCounts[uint32(i)]; c != nil {
				st.Received, st.StartNS, st.EndNS = c.Received, c.StartNS, c.EndNS
			}
			f.Stats[i] = st
		}
	}
	for id := range f.scanCounts {
		if int(id) >= len(srcs) {
			f.warn("samples reference interface %d but the trace has %d sources", id, len(srcs))
			break
		}
	}
	if n := f.warns.Dropped(); n > 0 {
		f.Warnings = append(f.Warnings, warn.DroppedLine(n))
	}
	f.isbs, f.gotSrcs, f.idbs, f.scanCounts = nil, nil, nil, nil
}

// kindByName is the SourceKind whose String is s, 0 if none.
func kindByName(s string) SourceKind {
	for k := KindTracepoint; k <= KindUretprobe; k++ {
		if k.String() == s {
			return k
		}
	}
	return 0
}
