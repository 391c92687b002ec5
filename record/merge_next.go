package record

// nextTime returns the time of the oldest record not yet written, and
// false when none is pending. Between two merges new chunks may leave a
// queue unsorted, and then its pending records are scanned.
func (m *merger) nextTime() (uint64, bool) {
	var next uint64
	found := false
	see := func(t uint64) {
		if !found || t < next {
			next, found = t, true
		}
	}
	for _, q := range m.qs {
		if q.sorted {
			if q.next < len(q.recs) {
				see(q.recs[q.next].time)
			}
			continue
		}
		for _, r := range q.recs[q.next:] {
			see(r.time)
		}
	}
	return next, found
}
