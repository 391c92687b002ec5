//go:build linux

package record

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// dirBytes sums the sizes of the regular files in dir, newest name first:
// the files of a set are closed before the next one starts, so the older
// ones, looked at later, have the size they had when the newest was
// looked at, or are gone. In name order, a file deleted meanwhile would
// count with the newest file's later size: a sum the disk never held.
func dirBytes(dir string) int64 {
	ents, _ := os.ReadDir(dir)
	var n int64
	for _, e := range slices.Backward(ents) {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// TestRotateSoak records a known number of getppid calls into a set of
// small rotated files of which only the newest three are kept, while
// watching the disk: the disk stays under the cap plus one frame, every
// kept file decodes on its own, and kept samples + the deleted files'
// samples (from the result) + lost = calls, exactly. The tiny ring of the
// second case makes the kernel drop samples across rotations: what it
// writes follows the CPU the recorder gets, not the calls, so its workload
// goes on until the set has deleted its second file.
func TestRotateSoak(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name   string
		ring   int
		rotate int64
		until  bool
	}{{"no-loss", 0, 256 << 10, false}, {"tiny-ring", 16 << 10, 12 << 10, true}} {
		t.Run(tc.name, func(t *testing.T) {
			const keep = 3
			rotate := tc.rotate
			dir := t.TempDir()
			out := filepath.Join(dir, "soak.pcapng.zst")
			n := uint64(1_500_000)
			workload := "getppid:1500000:2"
			callsFile := filepath.Join(t.TempDir(), "calls")
			if tc.until {
				workload = "getppid-until:1500000:2"
				t.Setenv(untilGoneEnv, format.SetFileName(out, 2))
				t.Setenv(callsEnv, callsFile)
			}
			var maxDisk atomic.Int64
			stop := make(chan struct{})
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				for {
					maxDisk.Store(max(maxDisk.Load(), dirBytes(dir)))
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
			c := recordCounted(t, captureSpec{
				workload: workload,
				opts:     Options{Output: out, BufferSize: tc.ring, RotateSize: rotate, Keep: keep},
				srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
				opened:   format.SetFileName(out, 1),
			})
			close(stop)
			<-watched
			res := c.res
			if tc.until {
				n = readCalls(t, callsFile)
			}
			defer func() {
				if t.Failed() {
					for _, f := range res.Files {
						t.Logf("%s: %d bytes, %d samples, %d lost, deleted %v", filepath.Base(f.Path), f.Bytes, f.Samples, f.Lost, f.Deleted)
					}
				}
			}()
			if len(res.Files) < keep+1 {
				t.Fatalf("only %d files written (%d samples, %d lost): the test rotates too little", len(res.Files), res.Samples, res.Lost)
			}
			var kept []FileStats
			var delSamples uint64
			for i, f := range res.Files {
				if f.Seq != i+1 || f.Path != format.SetFileName(out, i+1) {
					t.Errorf("file %d: seq %d path %s", i, f.Seq, f.Path)
				}
				if f.Deleted {
					delSamples += f.Samples
					if _, err := os.Stat(f.Path); !os.IsNotExist(err) {
						t.Errorf("%s reported deleted but still there (%v)", f.Path, err)
					}
				} else {
					kept = append(kept, f)
				}
			}
			if len(kept) != keep {
				t.Fatalf("%d files kept, want %d", len(kept), keep)
			}
			var keptSamples, maxFrame int64
			t.Logf("result: %d samples, %d lost, %d files", res.Samples, res.Lost, len(res.Files))
			var prevEnd uint64
			for i, fs := range kept {
				f, err := format.Open(fs.Path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if len(f.Warnings) > 0 {
					t.Errorf("%s: warnings %v", fs.Path, f.Warnings)
				}
				set := f.Header.Set
				if set == nil || !set.Final || set.ID != res.SetID || set.Seq != fs.Seq || set.Samples != fs.Samples || set.Lost != fs.Lost {
					t.Fatalf("%s: set block %+v, result %+v (set %s)", fs.Path, set, fs, res.SetID)
				}
				if i > 0 && set.StartNS != prevEnd {
					t.Errorf("%s starts at %d, the previous file ended at %d", fs.Path, set.StartNS, prevEnd)
				}
				prevEnd = set.EndNS
				outsideSpan(t, f, fs.Path)
				counts, err := countSamples(t, f, nil)
				if err != nil {
					t.Fatal(err)
				}
				if uint64(counts[0]) != fs.Samples || f.Stats[0].Received != fs.Samples {
					t.Errorf("%s: %d samples decoded, stats %d, result %d", fs.Path, counts[0], f.Stats[0].Received, fs.Samples)
				}
				keptSamples += int64(counts[0])
				// Standalone: the workload's threads are named in the file
				// (unless the kernel dropped their task records with samples).
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
					maxFrame = max(maxFrame, fr.CSize)
				}
			}
			total := uint64(keptSamples) + delSamples + res.Lost
			t.Logf("%d files, kept %d samples, deleted files %d samples, lost %d: %d of %d calls; disk max %d bytes for a cap of %d (+ largest frame %d)",
				len(res.Files), keptSamples, delSamples, res.Lost, total, n, maxDisk.Load(), keep*rotate, maxFrame)
			if total != n {
				t.Errorf("kept %d + deleted %d + lost %d = %d, want %d calls", keptSamples, delSamples, res.Lost, total, n)
			}
			if res.Samples != uint64(keptSamples)+delSamples {
				t.Errorf("result says %d samples, files hold %d", res.Samples, uint64(keptSamples)+delSamples)
			}
			// A file that passes its share shortens the next one (the files
			// kept leave the current one the rest of the cap), so the disk
			// passes the cap by what one file passes its share at most.
			if d := maxDisk.Load(); d > keep*rotate+maxFrame {
				t.Errorf("disk reached %d bytes: over the cap %d plus one frame (%d)", d, keep*rotate, maxFrame)
			}
			if tc.ring != 0 && res.Lost == 0 {
				t.Logf("the tiny ring lost nothing this time")
			}
		})
	}
}

// readCalls reads the number of calls a getppid-until workload made.
func readCalls(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the workload did not say how many calls it made: %v", err)
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		t.Fatalf("calls file %s: %v", path, err)
	}
	return n
}

// TestSetFileName pins the documented naming pattern.
func TestSetFileName(t *testing.T) {
	for in, want := range map[string]string{
		"trace.pcapng.zst": "trace-0007.pcapng.zst",
		"/d/x.y/out.bin":   "/d/x.y/out-0007.bin",
		"noext":            "noext-0007",
		"dir.d/t.zst":      "dir.d/t-0007.zst",
		".pcapng.zst":      ".pcapng-0007.zst",
	} {
		if got := format.SetFileName(in, 7); got != want {
			t.Errorf("SetFileName(%q, 7) = %q, want %q", in, got, want)
		}
	}
	names := []string{format.SetFileName("t.pcapng.zst", 10), format.SetFileName("t.pcapng.zst", 9)}
	sort.Strings(names)
	if names[0] != "t-0009.pcapng.zst" {
		t.Errorf("names do not sort by sequence: %v", names)
	}
}
