//go:build linux

package record

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// TestSnapshotTrigger runs a flight recorder over a workload that makes n
// getppid calls, a marked getpgid call, then n more: a trigger on the mark
// writes a snapshot that holds every call before it (the window covers the
// whole run), the mark, and nothing was written before it.
func TestSnapshotTrigger(t *testing.T) {
	requireRoot(t)
	const n = 200_000
	dir := t.TempDir()
	out := filepath.Join(dir, "fr.pcapng.zst")
	enter := tracepointSource(t, "syscalls", "sys_enter_getppid")
	mark := tracepointSource(t, "syscalls", "sys_enter_getpgid")
	c := recordCounted(t, captureSpec{
		workload: "getppid-mark:200000:1",
		opts: Options{Output: out, SnapshotWindow: time.Minute, Triggers: []Trigger{{
			Text: "mark", Source: "syscalls:sys_enter_getpgid",
			Compile: func(format.Source) (func(*format.Sample) bool, error) {
				return func(s *format.Sample) bool { return true }, nil
			}}}},
		srcs:   []*source{enter, mark},
		opened: out,
	})
	res := c.res
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the flight recorder wrote %s (%v)", out, err)
	}
	if len(res.Files) != 1 {
		t.Fatalf("%d snapshots written, want 1: %+v", len(res.Files), res.Files)
	}
	fs := res.Files[0]
	f, err := format.Open(fs.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s := f.Header.Set; s == nil || s.Mode != "snapshot" || s.Trigger == "" || s.Seq != 1 || !s.Final {
		t.Fatalf("set block %+v", s)
	}
	outsideSpan(t, f, fs.Path)
	var markT uint64
	var times []uint64
	it := f.Samples()
	for it.Next() {
		s := it.Sample()
		if s.Source == 1 {
			markT = s.Time
		} else {
			times = append(times, s.Time)
		}
	}
	if it.Err() != nil || markT == 0 {
		t.Fatalf("no mark in the snapshot (err %v)", it.Err())
	}
	before := 0
	for _, tm := range times {
		if tm < markT {
			before++
		}
	}
	t.Logf("snapshot %s: %d events (%d before the mark), %d bytes; ring peak %d bytes; result lost %d",
		fs.Path, fs.Samples, before, fs.Bytes, res.SnapshotMemory, res.Lost)
	if res.Lost == 0 && before != n {
		t.Errorf("%d calls before the mark in the snapshot, want %d", before, n)
	}
	if uint64(before) > n || f.Stats[0].Received != uint64(len(times)) || fs.Samples != uint64(len(times)+1) {
		t.Errorf("counts: %d before, stats %+v, file %+v", before, f.Stats, fs)
	}
}

// TestSnapshotMemoryBound keeps a 64 KiB flight recorder over a busy
// workload: the memory it holds never passes its size plus one frame, and
// nothing is written unasked.
func TestSnapshotMemoryBound(t *testing.T) {
	requireRoot(t)
	const size = 64 << 10
	dir := t.TempDir()
	out := filepath.Join(dir, "fr.pcapng.zst")
	c := recordCounted(t, captureSpec{
		workload: "getppid:400000:2",
		opts:     Options{Output: out, SnapshotSize: size},
		srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
		opened:   out,
	})
	res := c.res
	// Frames are at most 2*size raw bytes: compressed, less.
	if res.SnapshotMemory == 0 || res.SnapshotMemory > size+2*size {
		t.Errorf("the flight recorder held %d bytes, over %d + one frame", res.SnapshotMemory, size)
	}
	t.Logf("peak %d bytes for a %d window; %d samples, %d lost", res.SnapshotMemory, size, res.Samples, res.Lost)
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || len(res.Files) != 0 {
		t.Errorf("files written unasked: %v %+v", ents, res.Files)
	}
}
