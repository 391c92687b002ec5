//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// corruptVariant is a damaged copy of a real trace.
type corruptVariant struct {
	name string
	data []byte
}

// corruptVariants damages b in the ways a disk, a copy or a person does:
// truncation at many offsets (every frame's start and end among them), bit
// flips in zstd frame headers, block lengths and the seek index, frames
// replaced by garbage, swapped or repeated.
func corruptVariants(t *testing.T, path string, b []byte) []corruptVariant {
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []corruptVariant
	add := func(name string, d []byte) { vs = append(vs, corruptVariant{name, d}) }
	cuts := map[int64]bool{0: true, 1: true, 4: true, 13: true, 100: true, int64(len(b)) - 1: true, int64(len(b)) - 20: true}
	for _, fr := range f.Frames {
		cuts[fr.Offset+1], cuts[fr.Offset+fr.CSize/2], cuts[fr.Offset+fr.CSize-1] = true, true, true
	}
	for i := int64(1); i < 8; i++ {
		cuts[int64(len(b))*i/8] = true
	}
	for c := range cuts {
		if c >= 0 && c < int64(len(b)) {
			add(fmt.Sprintf("truncated-at-%d", c), b[:c])
		}
	}
	flip := func(off int64, bit byte) {
		if off >= 0 && off < int64(len(b)) {
			d := append([]byte(nil), b...)
			d[off] ^= bit
			add(fmt.Sprintf("flip-%#x-at-%d", bit, off), d)
		}
	}
	// The header frame (SHB, IDB and metadata lengths are in its first KB)
	// and each sample frame's zstd header and body.
	for _, off := range []int64{0, 4, 5, 6, 9, 12, 40, 200, 1000} {
		flip(off, 0x80)
	}
	for i, fr := range f.Frames {
		if i > 3 {
			break
		}
		for _, d := range []int64{0, 4, 5, 8, fr.CSize / 2, fr.CSize - 2} {
			flip(fr.Offset+d, 0x10)
		}
	}
	// The seek index at the end, and its length.
	for _, back := range []int64{1, 4, 8, 16, 40} {
		flip(int64(len(b))-back, 0x01)
	}
	if len(f.Frames) >= 2 {
		a, c := f.Frames[0], f.Frames[1]
		junk := append([]byte(nil), b...)
		for i := a.Offset; i < a.Offset+a.CSize; i++ {
			junk[i] = byte(i * 131)
		}
		add("frame0-garbage", junk)
		sw := append([]byte(nil), b[:a.Offset]...)
		sw = append(sw, b[c.Offset:c.Offset+c.CSize]...)
		sw = append(sw, b[a.Offset:a.Offset+a.CSize]...)
		sw = append(sw, b[c.Offset+c.CSize:]...)
		add("frames-swapped", sw)
		dup := append([]byte(nil), b[:c.Offset]...)
		dup = append(dup, b[a.Offset:a.Offset+a.CSize]...)
		dup = append(dup, b[c.Offset:]...)
		add("frame-repeated", dup)
	}
	return vs
}

// TestCorruptTracesCLI runs every reading command over damaged copies of
// the committed sample traces: each ends with exit 1 and a one-line
// message, or exit 0 having read what it could (then it says what it
// skipped, or its output is the undamaged trace's); never a stack trace,
// within bounded time and memory.
func TestCorruptTracesCLI(t *testing.T) {
	if _, err := os.Stat(timeBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s (Debian package time) is missing", timeBin)
		}
		t.Skipf("%s (Debian package time) measures peak memory: %v", timeBin, err)
	}
	bin := buildKpcap(t)
	const name = "trace.pcapng.zst"
	cmds := [][]string{
		{"info", name},
		{"info", "--json", name},
		{"info", "--check", name},
		{"replay", name},
		{"replay", "--format", "json", name},
		{"replay", "-o", "o.parquet", name},
		{"replay", "-o", "o.arrow", name},
		{"analyze", "summary", name},
		{"analyze", "latency", name},
		{"analyze", "flame", name},
		{"analyze", "diff", name, name},
		{"analyze", "report", "-o", "r.html", name},
	}
	for _, trace := range []string{"openat-6.1.pcapng.zst", "openat-6.12.pcapng.zst"} {
		src := filepath.Join("..", "..", "testdata", "kernels", trace)
		orig, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		// The undamaged trace's outputs, run under the same relative name.
		okDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(okDir, name), orig, 0o644); err != nil {
			t.Fatal(err)
		}
		want := make([]string, len(cmds))
		for i, args := range cmds {
			r := runHostileIn(t, bin, okDir, 60*time.Second, args...)
			if r.code != 0 {
				t.Fatalf("%s on the undamaged %s: exit %d: %s", args, trace, r.code, r.stderr)
			}
			want[i] = r.out
		}
		for _, v := range corruptVariants(t, src, orig) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), v.data, 0o644); err != nil {
				t.Fatal(err)
			}
			for i, args := range cmds {
				r := runHostileIn(t, bin, dir, 60*time.Second, args...)
				what := fmt.Sprintf("%s %s: kpcap %s", trace, v.name, strings.Join(args, " "))
				switch {
				case r.killed:
					t.Errorf("%s: still running after 60 s", what)
					continue
				case strings.Contains(r.stderr+r.out, "goroutine ") || strings.Contains(r.stderr+r.out, "panic:"):
					t.Errorf("%s: stack trace:\n%s", what, r.stderr)
				case r.code == 1:
					if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "kpcap ") {
						t.Errorf("%s: exit 1 with stderr of %d lines:\n%s", what, len(lines), r.stderr)
					}
				case r.code == 0:
					for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
						if l != "" && !strings.HasPrefix(l, "kpcap ") && !strings.HasPrefix(l, "  ") {
							t.Errorf("%s: stray stderr line %q", what, l)
						}
					}
					if r.out != want[i] && !statesDamage(r.stderr+r.out) {
						t.Errorf("%s: exit 0, output differs from the undamaged trace's, and no warning says why", what)
					}
				default:
					t.Errorf("%s: exit %d: %s", what, r.code, r.stderr)
				}
				// A frame repeated byte for byte is read once (format's
				// dupframe): the same events as the undamaged trace, and a
				// warning saying so.
				if v.name == "frame-repeated" && args[0] == "replay" && args[1] != "-o" {
					if r.code != 0 || r.out != want[i] || !strings.Contains(r.stderr, "repeat earlier frames") {
						t.Errorf("%s: exit %d, output same as undamaged %v, want exit 0, the same output and a warning; stderr:\n%s",
							what, r.code, r.out == want[i], r.stderr)
					}
				}
				if r.maxRSSKB > 512<<10 {
					t.Errorf("%s: peak RSS %d MB", what, r.maxRSSKB>>10)
				}
			}
		}
	}
}

// statesDamage reports whether a command's output says that it skipped
// part of a trace.
func statesDamage(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"warning", "truncated", "corrupt", "ignored", "skipped", "unusable", "no seek index"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
