package format

import (
	"strings"
	"testing"
)

// TestRepeatedFrameReadOnce: a sample frame copied again right after itself
// (the index then no longer matches, so the file is scanned) yields its
// samples once, with one warning that counts the repeat.
func TestRepeatedFrameReadOnce(t *testing.T) {
	orig := writeTrace(t, 3000, &WriterOptions{FrameBytes: 16 << 10}, true)
	f := openBytes(t, orig)
	if len(f.Frames) < 3 {
		t.Fatalf("%d sample frames, want at least 3", len(f.Frames))
	}
	want := events(t, f)
	fr := f.Frames[1]
	end := fr.Offset + fr.CSize
	var b []byte
	b = append(b, orig[:end]...)
	for i := 0; i < 2; i++ {
		b = append(b, orig[fr.Offset:end]...)
	}
	b = append(b, orig[end:]...)

	g := openBytes(t, b)
	if got := events(t, g); got != want {
		t.Errorf("%d events read, want %d (the repeated frame's samples came back)", got, want)
	}
	if len(g.Frames) != len(f.Frames) {
		t.Errorf("%d sample frames, want %d", len(g.Frames), len(f.Frames))
	}
	n := 0
	for _, w := range g.Warnings {
		if strings.Contains(w, "repeat earlier frames") {
			n++
			if !strings.HasPrefix(w, "2 frames") {
				t.Errorf("warning does not count both copies: %q", w)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d warnings about the repeat, want 1: %q", n, g.Warnings)
	}
}

// events counts the samples of every sample frame of f.
func events(t *testing.T, f *File) int {
	t.Helper()
	var buf []byte
	n := 0
	for i := range f.Frames {
		var err error
		buf, err = f.ReadFrame(i, buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := ForEachSample(buf, func(*Sample) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}
