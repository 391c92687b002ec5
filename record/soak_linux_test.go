//go:build linux

package record

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// TestSoakMinute is the production soak: a paced workload of 200k getppid
// calls a second for a minute, recorded with --rotate 2M --keep 3 while a
// second recorder, a flight recorder on the whole system, waits for the
// workload's marked getpgid call. The disk (sampled throughout) stays
// under the cap plus one frame, every kept file decodes on its own, kept
// + deleted (from the result) + lost = calls, and the snapshot holds every
// call of the workload in the window before it, as the rotating set saw
// them (counted from a pause between two calls at the window's start).
func TestSoakMinute(t *testing.T) {
	requireRoot(t)
	const (
		n      = 12_000_000 // calls, over 60 s
		rotate = 2 << 20
		keep   = 3
		window = 2 * time.Second
	)
	// The mark asks about a pid no other run uses: the flight recorder
	// watches the whole system, where other tests may run.
	mark := uint64(1<<30 + rand.N(1<<20))
	t.Setenv(markEnv, strconv.FormatUint(mark, 10))
	dir, snapDir := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "soak.pcapng.zst")

	// The flight recorder, system-wide, triggered by getpgid(mark).
	snapOut := filepath.Join(snapDir, "fr.pcapng.zst")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	type ret struct {
		res *Result
		err error
	}
	snapDone := make(chan ret, 1)
	go func() {
		res, err := runDirect(ctx, Options{
			Output: snapOut, SnapshotWindow: window, MaxSnapshots: 1,
			Started: func(StartInfo) { close(ready) },
			Triggers: []Trigger{{
				Text: "getpgid(mark)", Source: "syscalls:sys_enter_getpgid",
				Compile: func(format.Source) (func(*format.Sample) bool, error) {
					return func(s *format.Sample) bool {
						return len(s.Raw) >= 24 && binary.NativeEndian.Uint64(s.Raw[16:]) == mark
					}, nil
				}}},
		}, tracepointSource(t, "syscalls", "sys_enter_getppid"), tracepointSource(t, "syscalls", "sys_enter_getpgid"))
		snapDone <- ret{res, err}
	}()
	select {
	case <-ready:
	case r := <-snapDone:
		t.Fatalf("the flight recorder ended before it was ready: %v", r.err)
	}

	stop := watchDisk(dir)
	c := recordCounted(t, captureSpec{
		workload: "getppid-paced-mark:12000000:60000",
		opts:     Options{Output: out, RotateSize: rotate, Keep: keep},
		srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
		opened:   format.SetFileName(out, 1),
		timeout:  2 * time.Minute, // a loaded host paces the calls late
	})
	peak := stop()
	cancel()
	sr := <-snapDone
	if sr.err != nil {
		t.Fatalf("flight recorder: %v", sr.err)
	}

	res := c.res
	sc := checkSet(t, res, out)
	t.Logf("rotating set: %d files (%d kept), kept %d + deleted %d samples + lost %d of %d calls; disk peak %d for a cap of %d (largest frame %d); recorder CPU %v, peak RSS %d",
		len(res.Files), sc.kept, sc.keptSamples, sc.delSamples, res.Lost, n, peak, keep*rotate, sc.maxFrame,
		time.Duration(res.Usage.UserNS+res.Usage.SystemNS), res.Usage.MaxRSS)
	if sc.kept != keep || sc.deleted == 0 {
		t.Errorf("%d files kept, %d deleted: want %d kept and some deleted", sc.kept, sc.deleted, keep)
	}
	if got := sc.keptSamples + sc.delSamples + res.Lost; got != n {
		t.Errorf("kept %d + deleted %d + lost %d = %d, want %d calls", sc.keptSamples, sc.delSamples, res.Lost, got, n)
	}
	if peak > keep*rotate+sc.maxFrame {
		t.Errorf("disk reached %d bytes: over the cap %d plus one frame (%d)", peak, keep*rotate, sc.maxFrame)
	}

	// The snapshot: one file, holding the mark and the window before it.
	if len(sr.res.Files) == 0 && sr.res.Lost > 0 {
		// The mark may be one of the events the loaded host made the
		// flight recorder lose: counted, so nothing to compare.
		t.Logf("no snapshot: the flight recorder lost %d events, the mark may be among them (notices %q)", sr.res.Lost, sr.res.Notices)
		return
	}
	if len(sr.res.Files) != 1 {
		t.Fatalf("%d snapshots, want 1: %+v (notices %q)", len(sr.res.Files), sr.res.Files, sr.res.Notices)
	}
	snap := sr.res.Files[0]
	f, err := format.Open(snap.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s := f.Header.Set; s == nil || s.Mode != "snapshot" || s.Trigger == "" {
		t.Fatalf("snapshot set block %+v", s)
	}
	var markT uint64
	var markTID uint32
	var snapTimes []uint64 // every getppid sample, any task
	var snapTIDs []uint32
	it := f.Samples()
	for it.Next() {
		s := it.Sample()
		if s.Source == 1 && len(s.Raw) >= 24 && binary.NativeEndian.Uint64(s.Raw[16:]) == mark {
			markT, markTID = s.Time, s.TID
		} else if s.Source == 0 {
			snapTimes = append(snapTimes, s.Time)
			snapTIDs = append(snapTIDs, s.TID)
		}
	}
	if it.Err() != nil || markT == 0 {
		t.Fatalf("no mark in the snapshot (err %v)", it.Err())
	}
	end := f.Header.Set.EndNS
	from := end - uint64(window) // the window the snapshot is asked to hold
	var workload []uint64
	for i, tm := range snapTimes {
		if snapTIDs[i] == markTID {
			workload = append(workload, tm)
		}
	}
	slices.Sort(workload)
	first := ^uint64(0)
	if len(workload) > 0 {
		first = workload[0]
	}
	// The two recorders' events stamp each call with their own clock
	// reading, one after the other in the same syscall entry (the set's
	// about half a microsecond first): a call can fall on either side of a
	// time in the two recordings. The counts start in a pause between two
	// calls early in the window, which no call's two stamps straddle.
	cut, pause := pauseIn(workload, from, from+uint64(window)/8)
	inSnap := 0
	for _, tm := range workload {
		if tm >= cut && tm < markT {
			inSnap++
		}
	}
	// What the rotating set saw of the workload in that window.
	inSet, setLost := 0, uint64(0)
	covered := false
	for _, fs := range res.Files {
		if fs.Deleted || fs.EndNS < cut || fs.StartNS > markT {
			continue
		}
		covered = covered || fs.StartNS <= cut
		setLost += fs.Lost
		sf, err := format.Open(fs.Path)
		if err != nil {
			t.Fatal(err)
		}
		it := sf.Samples()
		for it.Next() {
			if s := it.Sample(); s.TID == markTID && s.Time >= cut && s.Time < markT {
				inSet++
			}
		}
		sf.Close()
	}
	t.Logf("snapshot: %d samples (%d of the workload from a %v pause %v into the %v before its end to the mark, first at -%v), %d bytes, %d lost; the set saw %d (%d lost in its files); flight recorder peak memory %d, peak RSS %d, %d lost",
		snap.Samples, inSnap, time.Duration(pause), time.Duration(cut-from), window, time.Duration(end-first), snap.Bytes, snap.Lost, inSet, setLost, sr.res.SnapshotMemory, sr.res.Usage.MaxRSS, sr.res.Lost)
	if !covered {
		t.Fatalf("the kept files do not cover the snapshot's window: the test needs its mark later")
	}
	if inSnap == 0 || snap.Lost == 0 && setLost == 0 && inSnap != inSet {
		t.Errorf("the snapshot holds %d of the workload's calls in its window, the rotating set %d", inSnap, inSet)
	}
	if inSnap > inSet && setLost == 0 {
		t.Errorf("the snapshot holds %d calls in its window, more than the %d made", inSnap, inSet)
	}
}

// pauseIn returns the middle of the first gap of at least a millisecond
// between consecutive times (sorted) that ends in [lo, hi), or else of the
// widest, and the gap: the paced workload pauses a few milliseconds
// between its batches, far longer than the two recorders' stamps of one
// call lie apart. It returns lo and 0 when no gap ends there.
func pauseIn(times []uint64, lo, hi uint64) (cut, gap uint64) {
	cut = lo
	for i := 1; i < len(times); i++ {
		if times[i] >= lo && times[i] < hi && times[i]-times[i-1] > gap {
			gap = times[i] - times[i-1]
			cut = times[i-1] + gap/2
			if gap >= uint64(time.Millisecond) {
				break
			}
		}
	}
	return cut, gap
}
