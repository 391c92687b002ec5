package format

// LostTotal is the number of samples the capture lost: the one total every
// command reports.
//
// With the recorder's statistics blocks it is the sum of their per-source
// dropped counts, which the recorder settles exactly from the event
// counters; the loss records are not added on top, since they report the
// same loss per ring (and also count lost non-sample records such as
// COMM). Without them (a recorder killed before Close) the loss records
// are all there is, including those no source was named for.
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
