package format

// LostTotal is the number of samples the capture lost: the one total every
// command reports.
//
// With statistics blocks for every source it is the sum of their dropped
// counts, which the recorder settles exactly from the event counters; the
// loss records are not added on top, since they report the same loss per
// ring (and the kernel's ring reports also count lost task records such as
// COMM, so they may exceed it). Without them (a recorder killed before
// Close) it is the larger of the loss records and the counts recomputed
// from them.
func (f *File) LostTotal() uint64 {
	var dropped, ring uint64
	for _, s := range f.Stats {
		dropped += s.Dropped
	}
	if !f.StatsRecomputed {
		return dropped
	}
	for _, l := range f.Lost {
		ring += l.Count
	}
	return max(dropped, ring)
}

// LostBySource is each source's lost samples by the same rule: its
// statistics block's dropped count, or without statistics blocks the
// larger of that and the loss records naming it. Loss records naming no
// source count only in LostTotal.
func (f *File) LostBySource() []uint64 {
	out := make([]uint64, len(f.Header.Sources))
	if f.StatsRecomputed {
		for _, l := range f.Lost {
			if int(l.Source) < len(out) {
				out[l.Source] += l.Count
			}
		}
	}
	for _, s := range f.Stats {
		if int(s.Source) < len(out) {
			out[s.Source] = max(out[s.Source], s.Dropped)
		}
	}
	return out
}
