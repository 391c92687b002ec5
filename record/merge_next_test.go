package record

import "testing"

// TestMergeNextTime checks the oldest pending record is found in sorted
// queues (their first), in queues new chunks left unsorted (anywhere), and
// that merged records no longer count.
func TestMergeNextTime(t *testing.T) {
	qs := []*cpuQueue{{sorted: true}, {sorted: true}, {sorted: true}}
	m := merger{qs: qs}
	if _, ok := m.nextTime(); ok {
		t.Fatal("empty queues have a pending record")
	}
	add := func(q int, times ...uint64) {
		ch := &chunk{}
		for i, tm := range times {
			ch.data = append(ch.data, fakeRecord(tm, uint64(i))...)
		}
		qs[q].add(ch)
	}
	add(0, 50, 60)
	add(1, 40, 30, 45) // out of order: unsorted until the next merge
	if next, ok := m.nextTime(); !ok || next != 30 {
		t.Fatalf("next %d (%v), want 30", next, ok)
	}
	if err := m.run(40, func(int, []byte) error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if next, ok := m.nextTime(); !ok || next != 45 {
		t.Fatalf("after merging up to 40: next %d (%v), want 45", next, ok)
	}
}
