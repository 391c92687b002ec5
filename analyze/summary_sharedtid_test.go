package analyze

import (
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// TestFastSummarySharedTID is the shape of a system-wide recording in which
// sched_switch rows of exiting tasks carry tid -1 under their own pids, and
// one of those processes changes its comm by exec mid-trace: one tid then
// comes with several pids, each named by its process's records only. Every
// row's comm must be the one format.CommTable gives its (pid, tid, ts), on
// the fast path and the batch path alike, whatever frame a worker reads
// first (a comm cache keyed by tid alone handed one pid's name to another).
func TestFastSummarySharedTID(t *testing.T) {
	const exiting = ^uint32(0) // tid -1
	comms := []format.Comm{
		{PID: 70, TID: 70, Time: 0, Comm: "kpcap"},
		{PID: 70, TID: 70, Time: 3_000_000, Comm: "vet"}, // exec, in the middle frame
		{PID: 80, TID: 80, Time: 0, Comm: "kpcap"},
		// pid 90 is never named
	}
	var frames [][]format.Sample
	ts := uint64(1_000_000)
	for f := 0; f < 6; f++ {
		var fr []format.Sample
		for i := 0; i < 30; i++ {
			ts += 33_000
			pid := []uint32{70, 80, 90}[(i+f)%3]
			tid := exiting
			if i%4 == 0 {
				tid = pid
			}
			fr = append(fr, format.Sample{Source: 0, Time: ts, CPU: uint32(i % 2), PID: pid, TID: tid})
		}
		frames = append(frames, fr)
	}
	p := genTrace(t, filepath.Join(t.TempDir(), "sharedtid.pcapng.zst"), comms, frames)
	ct := format.NewCommTable(comms, 2)
	want := map[string]uint64{}
	for _, fr := range frames {
		for _, s := range fr {
			name := ""
			if i, _, _ := ct.Lookup(s.PID, s.TID, s.CPU, s.Time); i >= 0 {
				name = ct.Names()[i]
			}
			want[name]++
		}
	}
	if want["vet"] == 0 || want["kpcap"] == 0 || want[""] == 0 {
		t.Fatalf("trace lacks a comm change or an unnamed pid: %v", want)
	}
	for _, workers := range []int{1, 2, 4} {
		s := checkFastSummary(t, p, replay.Options{Workers: workers}, SummaryOptions{}, true)
		got := map[string]uint64{}
		for _, c := range s.Comms {
			got[c.Name] = c.Count
		}
		for name, n := range want {
			if got[name] != n {
				t.Errorf("workers %d: comm %q counts %d rows, want %d (all: %v, want %v)", workers, name, got[name], n, got, want)
			}
		}
	}
}

// TestFastSummaryRotatedFile runs both paths over a real file with tid -1
// rows under many pids and an exec mid-trace (testdata/rotated/README.md),
// with several worker counts: the fast path's frame order differs between
// runs, its counts must not.
func TestFastSummaryRotatedFile(t *testing.T) {
	p := filepath.Join("..", "testdata", "rotated", "exec-exiting-tid.pcapng.zst")
	for _, workers := range []int{1, 2, 3, 8} {
		for range 3 {
			checkFastSummary(t, p, replay.Options{Workers: workers}, SummaryOptions{}, true)
		}
	}
}
