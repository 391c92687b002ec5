package format

import (
	"strings"
	"testing"
)

// TestScanWarningsGrouped damages every other frame of a file without an
// index: the scan names each kind of damage once, its first example and how
// many more frames it hit, not one line per frame cut off at a cap.
func TestScanWarningsGrouped(t *testing.T) {
	b := writeTrace(t, 20000, &WriterOptions{FrameBytes: 4096}, false)
	clean := openBytes(t, b)
	damaged := 0
	for i, fr := range clean.Frames {
		if i%2 == 0 || fr.Samples == 0 {
			continue
		}
		b[fr.Offset+fr.CSize/2] ^= 0xff
		damaged++
	}
	if damaged < 3*50 {
		t.Fatalf("%d frames damaged of %d: too few to pass the old cap", damaged, len(clean.Frames))
	}
	f := openBytes(t, b)
	if len(f.Frames) >= len(clean.Frames) {
		t.Fatalf("%d frames kept of %d with %d damaged", len(f.Frames), len(clean.Frames), damaged)
	}
	ws := f.Warnings
	if len(ws) > 5 {
		t.Fatalf("%d warning lines for %d damaged frames, want one per kind:\n%s", len(ws), damaged, strings.Join(ws[:10], "\n"))
	}
	grouped := false
	for _, w := range ws {
		if strings.Contains(w, "at offset") && strings.Contains(w, "more like it)") {
			grouped = true
		}
	}
	if !grouped {
		t.Errorf("no grouped damaged-frame line:\n%s", strings.Join(ws, "\n"))
	}
	t.Logf("%d damaged frames:\n%s", damaged, strings.Join(ws, "\n"))
}
