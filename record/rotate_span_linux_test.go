//go:build linux

package record

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// outsideSpan counts the samples of an open set file outside the span its
// set block states, [start_ns, end_ns) (format/FORMAT.md 4.9), and
// reports the first.
func outsideSpan(t *testing.T, f *format.File, path string) int {
	t.Helper()
	set := f.Header.Set
	if set == nil || !set.Final {
		t.Fatalf("%s: no final set block: %+v", path, set)
	}
	n := 0
	it := f.Samples()
	for it.Next() {
		if s := it.Sample(); s.Time < set.StartNS || s.Time >= set.EndNS {
			if n == 0 {
				t.Errorf("%s: sample at %d outside the file's span [%d, %d)", filepath.Base(path), s.Time, set.StartNS, set.EndNS)
			}
			n++
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkSpans opens each file of c's set and checks its samples lie in its
// span and that each file starts where the previous one ends; it returns
// the samples of each file, in file order.
func checkSpans(t *testing.T, c *capture) [][]uint64 {
	t.Helper()
	var times [][]uint64
	var prevEnd uint64
	for i, fs := range c.files() {
		f, err := format.Open(fs.Path)
		if err != nil {
			t.Fatal(err)
		}
		if n := outsideSpan(t, f, fs.Path); n > 0 {
			t.Errorf("%s: %d samples outside its span", filepath.Base(fs.Path), n)
		}
		if set := f.Header.Set; i > 0 && set.StartNS != prevEnd {
			t.Errorf("%s starts at %d, the previous file ended at %d", filepath.Base(fs.Path), set.StartNS, prevEnd)
		}
		prevEnd = f.Header.Set.EndNS
		var ts []uint64
		it := f.Samples()
		for it.Next() {
			ts = append(ts, it.Sample().Time)
		}
		times = append(times, ts)
		f.Close()
	}
	return times
}

// TestRotationKeepsEqualTimesTogether rotates by size right after a sample
// whose time the next sample, from another CPU, has too: the file must
// end after both (its span is [start, end): ending at their time leaves
// the first on its end, ending just after it puts the second before the
// next file's start).
func TestRotationKeepsEqualTimesTogether(t *testing.T) {
	o := &Options{Output: filepath.Join(t.TempDir(), "tie.pcapng.zst"), RotateSize: 1}
	c := backlogCapture(t, o)
	// Two rings, as two CPUs.
	c.qs = []*cpuQueue{{sorted: true}, {sorted: true}}
	c.merge.qs, c.bpfQ0 = c.qs, len(c.qs)
	c.cpuOf = []uint32{0, 1}
	c.recvCPU, c.weightCPU, c.filteredCPU = [][]uint64{{0, 0}}, [][]uint64{{0, 0}}, [][]uint64{{0, 0}}
	rng := rand.New(rand.NewPCG(1, 2))
	ring := func(q int, times ...uint64) {
		ch := &chunk{}
		for _, tm := range times {
			ch.data = append(ch.data, payloadSample(make([]byte, 184), tm, 0, rng)...)
		}
		c.qs[q].add(ch)
	}
	ring(0, 100, 200, 300)
	ring(1, 300, 400)
	c.sizeCheck = 3 // the size check comes after the third sample (the first at 300)
	if err := c.merge.run(^uint64(0), c.emit, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.closeFile(500, true); err != nil {
		t.Fatal(err)
	}
	times := checkSpans(t, c)
	t.Logf("files' samples: %v", times)
	if len(times) != 2 {
		t.Fatalf("%d files, want 2 (one size rotation)", len(times))
	}
}
