package analyze

// Timeline is event and loss counts in equal time buckets.
type Timeline struct {
	StartNS  uint64   `json:"start_ns"`
	BucketNS uint64   `json:"bucket_ns"`
	Events   []uint64 `json:"events"`
	Lost     []uint64 `json:"lost"`
}

// timeline buckets counts with a width that doubles (merging neighbours)
// whenever the buckets would exceed max: bounded memory, one pass.
type timeline struct {
	max    int
	start  uint64
	width  uint64
	events []uint64
	lost   []uint64
	seen   bool
}

func newTimeline(max int) *timeline { return &timeline{max: max, width: 1_000_000} }

// add counts n events at ts, widening the buckets as needed.
func (t *timeline) add(ts, n uint64) {
	if !t.seen {
		t.start, t.seen = ts, true
	}
	if ts < t.start {
		ts = t.start // inversions before the first event land in bucket 0
	}
	idx := (ts - t.start) / t.width
	for idx >= uint64(t.max) {
		if t.width >= 1<<62 { // hostile times: doubling would overflow
			idx = uint64(t.max) - 1
			break
		}
		t.grow()
		idx = (ts - t.start) / t.width
	}
	for int(idx) >= len(t.events) {
		t.events = append(t.events, 0)
	}
	t.events[idx] += n
}

// grow doubles the bucket width, merging neighbouring buckets.
func (t *timeline) grow() {
	t.width *= 2
	merged := make([]uint64, (len(t.events)+1)/2)
	for i, c := range t.events {
		merged[i/2] += c
	}
	t.events = merged
}

// addLost places loss records after all events are in.
func (t *timeline) addLost(ts, n uint64) {
	if len(t.lost) < len(t.events) {
		t.lost = append(t.lost, make([]uint64, len(t.events)-len(t.lost))...)
	}
	if len(t.lost) == 0 {
		t.lost = make([]uint64, 1)
		t.events = make([]uint64, 1)
	}
	idx := uint64(0)
	if ts > t.start {
		idx = min((ts-t.start)/t.width, uint64(len(t.lost)-1))
	}
	t.lost[idx] += n
}

// result is the Timeline, with a loss count for every bucket.
func (t *timeline) result() Timeline {
	if len(t.lost) < len(t.events) {
		t.lost = append(t.lost, make([]uint64, len(t.events)-len(t.lost))...)
	}
	return Timeline{StartNS: t.start, BucketNS: t.width, Events: t.events, Lost: t.lost}
}
