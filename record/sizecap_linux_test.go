//go:build linux

package record

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// watchDisk samples the bytes in dir every few milliseconds until the
// returned function is called, which returns the most seen.
func watchDisk(dir string) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			peak.Store(max(peak.Load(), dirBytes(dir)))
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-watched
		return peak.Load()
	}
}

// setCheck is what checkSet found in a rotated recording's files.
type setCheck struct {
	kept, deleted int
	keptSamples   uint64 // decoded from the kept files
	delSamples    uint64 // the deleted files', from the result
	maxFrame      int64  // the largest frame of a kept file
}

// checkSet checks every file of a set the result lists: names and
// sequence numbers, deleted ones gone, each kept one readable on its own
// (its set block, statistics and decoded samples agree, every sampled
// thread named unless samples were lost, every sample within its span),
// spans that join up.
func checkSet(t *testing.T, res *Result, out string) setCheck {
	t.Helper()
	var sc setCheck
	var prevEnd uint64
	prevSeq := 0
	for i, fs := range res.Files {
		if fs.Seq != i+1 || fs.Path != format.SetFileName(out, i+1) {
			t.Errorf("file %d: seq %d path %s", i, fs.Seq, fs.Path)
		}
		if fs.Deleted {
			sc.deleted++
			sc.delSamples += fs.Samples
			if _, err := os.Stat(fs.Path); !os.IsNotExist(err) {
				t.Errorf("%s reported deleted but still there (%v)", fs.Path, err)
			}
			continue
		}
		sc.kept++
		f, err := format.Open(fs.Path)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Warnings) > 0 {
			t.Errorf("%s: warnings %v", fs.Path, f.Warnings)
		}
		set := f.Header.Set
		if set == nil || !set.Final || set.ID != res.SetID || set.Seq != fs.Seq || set.Samples != fs.Samples || set.Lost != fs.Lost || set.Mode != "rotate" {
			t.Fatalf("%s: set block %+v, result %+v (set %s)", fs.Path, set, fs, res.SetID)
		}
		if prevSeq == fs.Seq-1 && prevSeq > 0 && set.StartNS != prevEnd {
			t.Errorf("%s starts at %d, the previous file ended at %d", fs.Path, set.StartNS, prevEnd)
		}
		prevSeq, prevEnd = fs.Seq, set.EndNS
		outsideSpan(t, f, fs.Path)
		counts, err := countSamples(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		var stats uint64
		for _, st := range f.Stats {
			stats += st.Received
		}
		if uint64(counts[0]) != fs.Samples || stats != fs.Samples {
			t.Errorf("%s: %d samples decoded, stats %d, result %d", fs.Path, counts[0], stats, fs.Samples)
		}
		sc.keptSamples += uint64(counts[0])
		named := map[uint32]bool{}
		for _, cm := range f.Comms {
			named[cm.TID] = true
		}
		it := f.Samples()
		for it.Next() {
			if s := it.Sample(); !named[s.TID] && res.Lost == 0 {
				t.Fatalf("%s: thread %d has no comm in the file", fs.Path, s.TID)
			}
		}
		for _, fr := range f.Frames {
			sc.maxFrame = max(sc.maxFrame, fr.CSize)
		}
		f.Close()
	}
	if res.Samples != sc.keptSamples+sc.delSamples {
		t.Errorf("result says %d samples, the files hold %d", res.Samples, sc.keptSamples+sc.delSamples)
	}
	return sc
}

// TestRotateEvery rotates by time (once a second, the shortest kpcap
// record accepts) a workload paced over 3.5 s: several files, each
// readable alone, spans joined, and the set's samples + lost = calls.
func TestRotateEvery(t *testing.T) {
	requireRoot(t)
	const n = 300_000
	out := filepath.Join(t.TempDir(), "every.pcapng.zst")
	c := recordCounted(t, captureSpec{
		workload: "getppid-paced:300000:3500",
		opts:     Options{Output: out, RotateEvery: time.Second},
		srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
		opened:   format.SetFileName(out, 1),
	})
	res := c.res
	sc := checkSet(t, res, out)
	t.Logf("%d files, %d samples, %d lost; %+v", len(res.Files), res.Samples, res.Lost, res.Stats)
	if len(res.Files) < 3 {
		t.Errorf("%d files in a 3.5 s recording rotated every second", len(res.Files))
	}
	if got := sc.keptSamples + res.Lost; got != n {
		t.Errorf("samples %d + lost %d = %d, want %d calls", sc.keptSamples, res.Lost, got, n)
	}
}

// TestRotateKeepSize bounds the disk by --keep-size, with rotation by
// size and by time (the current file then makes room by deleting the
// oldest while it grows): the disk never holds more than the cap plus one
// frame, the oldest files are the ones deleted, and kept + deleted + lost
// = calls.
func TestRotateKeepSize(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name   string
		rotate int64
		every  time.Duration
		cap    int64
	}{{"size", 64 << 10, 0, 200 << 10}, {"time", 0, time.Second, 160 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 1_000_000
			dir := t.TempDir()
			out := filepath.Join(dir, "ks.pcapng.zst")
			stop := watchDisk(dir)
			c := recordCounted(t, captureSpec{
				workload: "getppid:1000000:2",
				opts:     Options{Output: out, RotateSize: tc.rotate, RotateEvery: tc.every, KeepSize: tc.cap},
				srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
				opened:   format.SetFileName(out, 1),
			})
			peak := stop()
			res := c.res
			sc := checkSet(t, res, out)
			t.Logf("%d files (%d kept), %d samples, %d lost; disk peak %d for a cap of %d (largest frame %d)",
				len(res.Files), sc.kept, res.Samples, res.Lost, peak, tc.cap, sc.maxFrame)
			if sc.deleted == 0 {
				t.Fatalf("nothing deleted: the test does not reach the cap")
			}
			for i, f := range res.Files {
				if i > 0 && f.Deleted && !res.Files[i-1].Deleted {
					t.Errorf("%s deleted after a newer file was kept", f.Path)
				}
			}
			if got := sc.keptSamples + sc.delSamples + res.Lost; got != n {
				t.Errorf("kept %d + deleted %d + lost %d = %d, want %d calls", sc.keptSamples, sc.delSamples, res.Lost, got, n)
			}
			if peak > tc.cap+sc.maxFrame {
				t.Errorf("disk reached %d bytes: over the cap %d plus one frame (%d)", peak, tc.cap, sc.maxFrame)
				for _, f := range res.Files {
					t.Logf("%s: %d bytes, %d samples, deleted %v", filepath.Base(f.Path), f.Bytes, f.Samples, f.Deleted)
				}
			}
		})
	}
}

// TestMaxSize stops a recording at --max-size, of one file and of a
// rotated set: it stops by itself long before the workload ends, all it
// wrote stays under the limit plus one frame, every file decodes with
// statistics that match its samples, and the stop is said.
func TestMaxSize(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name   string
		rotate int64
		max    int64
	}{{"file", 0, 256 << 10}, {"set", 64 << 10, 300 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "max.pcapng.zst")
			stop := watchDisk(dir)
			spec := captureSpec{
				workload: "getppid:1500000:2",
				opts:     Options{Output: out, RotateSize: tc.rotate, MaxSize: tc.max},
				srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
			}
			if tc.rotate > 0 {
				spec.opened = format.SetFileName(out, 1)
			}
			c := recordCounted(t, spec)
			peak := stop()
			res := c.res
			stopped := false
			for _, s := range res.Notices {
				stopped = stopped || strings.Contains(s, "size limit")
			}
			if !stopped {
				t.Errorf("no notice of the stop: %q", res.Notices)
			}
			if res.Samples+res.Lost >= 1_500_000 {
				t.Fatalf("the recording did not stop before the workload ended")
			}
			var maxFrame int64
			if tc.rotate > 0 {
				sc := checkSet(t, res, out)
				maxFrame = sc.maxFrame
			} else {
				f := c.file
				if len(f.Warnings) > 0 {
					t.Errorf("warnings %v", f.Warnings)
				}
				if uint64(c.counts[0]) != f.Stats[0].Received || uint64(c.counts[0]) != res.Samples {
					t.Errorf("%d samples decoded, stats %d, result %d", c.counts[0], f.Stats[0].Received, res.Samples)
				}
				if c.lost != f.Stats[0].Dropped {
					t.Errorf("loss records %d, statistics %d", c.lost, f.Stats[0].Dropped)
				}
				for _, fr := range f.Frames {
					maxFrame = max(maxFrame, fr.CSize)
				}
			}
			t.Logf("%d samples, %d lost, %d files; peak %d bytes for --max-size %d (largest frame %d); notices %q",
				res.Samples, res.Lost, len(res.Files), peak, tc.max, maxFrame, res.Notices)
			if peak > tc.max+maxFrame {
				t.Errorf("%d bytes written: over --max-size %d plus one frame (%d)", peak, tc.max, maxFrame)
			}
			if peak < tc.max/2 {
				t.Errorf("stopped at %d bytes, long before --max-size %d", peak, tc.max)
			}
		})
	}
}
