//go:build linux

package record

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// TestRotationAfterLateSample rotates by size right after a late sample
// (older than one already written): the file must still end after its
// newest sample.
func TestRotationAfterLateSample(t *testing.T) {
	o := &Options{Output: filepath.Join(t.TempDir(), "late.pcapng.zst"), RotateSize: 1}
	c := backlogCapture(t, o)
	c.qs = []*cpuQueue{{sorted: true}}
	c.merge.qs, c.bpfQ0 = c.qs, len(c.qs)
	rng := rand.New(rand.NewPCG(1, 2))
	emit := func(tm uint64) {
		if err := c.emit(0, payloadSample(make([]byte, 184), tm, 0, rng)); err != nil {
			t.Fatal(err)
		}
	}
	emit(10_000)
	c.sizeCheck = 1 // the size check comes after the next sample, the late one
	emit(5_000)
	emit(20_000)
	if _, err := c.closeFile(30_000, true); err != nil {
		t.Fatal(err)
	}
	if c.late != 1 {
		t.Fatalf("%d late records, want 1: the test does not make the case it checks", c.late)
	}
	times := checkSpans(t, c)
	t.Logf("files' samples: %v", times)
	if len(times) != 2 {
		t.Fatalf("%d files, want 2 (one size rotation)", len(times))
	}
}
