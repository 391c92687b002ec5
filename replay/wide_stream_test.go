package replay

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestWideFrameStreams: a frame of a wide schema decodes into many
// batches, and the decoder hands each on as it is done instead of holding
// the whole frame's: with the first batch returned, at most a couple more
// are decoded ahead. A frame of 32 MiB of small samples over thousands of
// fields once held hundreds of batches of tens of MB each.
func TestWideFrameStreams(t *testing.T) {
	const nsrc, samples = 3000, 20000
	p := filepath.Join(t.TempDir(), "wide.kpcap")
	spec := traceSpec{sources: wideSources(nsrc)}
	raw := make([]byte, 20)
	for i := 0; i < samples; i++ {
		binary.LittleEndian.PutUint32(raw[8:], uint32(i))
		spec.samples = append(spec.samples, format.Sample{Source: uint32(i % nsrc), Time: uint64(i + 1), PID: 1, TID: 1, Raw: raw})
	}
	writeTrace(t, p, spec)
	r, err := Open(p, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.f.Frames) != 1 {
		t.Fatalf("%d frames, want the samples in one", len(r.f.Frames))
	}
	if !r.Next() {
		t.Fatal(r.Err())
	}
	batches := (samples + r.opts.BatchSize - 1) / r.opts.BatchSize
	if batches < 8 {
		t.Fatalf("%d batches of %d rows: not wide enough to tell", batches, r.opts.BatchSize)
	}
	if n := r.ahead.Load(); n > 3 {
		t.Errorf("with the first of %d batches returned, %d are decoded ahead, want at most 3", batches, n)
	}
	rows := int(r.Record().NumRows())
	for r.Next() {
		rows += int(r.Record().NumRows())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != samples {
		t.Errorf("%d rows, want %d", rows, samples)
	}
}

// TestWideReorderWindow: a wide schema's frame that reaches back past the
// run of frames before it (here a third frame interleaving with the first,
// after a second that starts later) merges through Next's reorder window,
// which holds a few batches (reorderCells), not up to reorderWindow rows: a
// merged chunk gives every column it touches a buffer of all its rows. Rows
// past the window come out of order, every one of them kept and counted in
// the warning.
func TestWideReorderWindow(t *testing.T) {
	const nsrc, perFrame = 3000, 6000
	p := filepath.Join(t.TempDir(), "wide.kpcap")
	spec := traceSpec{sources: wideSources(nsrc), flushAfter: map[int]bool{perFrame - 1: true, 2*perFrame - 1: true}}
	raw := make([]byte, 20)
	for f, first := range []int{1, 4 * perFrame, 2} {
		step := 2
		if f == 1 {
			step = 1
		}
		for i := 0; i < perFrame; i++ {
			binary.LittleEndian.PutUint32(raw[8:], uint32(i))
			spec.samples = append(spec.samples, format.Sample{Source: uint32(i % nsrc), Time: uint64(first + step*i), PID: 1, TID: 1, Raw: raw})
		}
	}
	writeTrace(t, p, spec)
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if w := r.reorderRows(); w >= perFrame {
		t.Fatalf("reorder window %d rows: the frames fit it", w)
	}
	if g := r.groupFrames(r.frames); len(g) != 2 {
		t.Fatalf("frame runs %v, want the first alone", g)
	}
	rows := 0
	for r.Next() {
		rows += int(r.Record().NumRows())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 3*perFrame {
		t.Errorf("%d rows, want %d", rows, 3*perFrame)
	}
	if r.outOfOrder == 0 {
		t.Errorf("no sample counted out of order: the whole overlap (%d rows) was merged in one window", 2*perFrame)
	}
	t.Logf("window %d rows, %d samples out of order: %v", r.reorderRows(), r.outOfOrder, r.Warnings())
}
