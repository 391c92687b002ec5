package format

// LostTotal is the number of samples the capture lost: the one total every
// command reports. It is the larger of two counts of the same loss, never
// their sum: the statistics blocks' per-source dropped counts (settled by
// the recorder from the event counters) and the loss records (the kernel's
// per-ring reports, some not naming a source, plus what the counters showed
// beyond them). The ring reports may exceed the counters when the kernel
// also lost task records such as COMM; without statistics blocks (a
// recorder killed before Close) the loss records are all there is.
func (f *File) LostTotal() uint64 {
	var dropped, ring uint64
	for _, s := range f.Stats {
		dropped += s.Dropped
	}
	for _, l := range f.Lost {
		ring += l.Count
	}
	return max(dropped, ring)
}

// LostBySource is each source's lost samples, by the same rule: the larger
// of its statistics block's dropped count and the loss records naming it.
// Loss records naming no source count only in LostTotal.
func (f *File) LostBySource() []uint64 {
	out := make([]uint64, len(f.Header.Sources))
	for _, l := range f.Lost {
		if int(l.Source) < len(out) {
			out[l.Source] += l.Count
		}
	}
	for _, s := range f.Stats {
		if int(s.Source) < len(out) {
			out[s.Source] = max(out[s.Source], s.Dropped)
		}
	}
	return out
}
