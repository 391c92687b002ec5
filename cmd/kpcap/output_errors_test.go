package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOutputPathErrors checks that unusable output and input paths fail early
// with a message naming the path the user gave (not a temporary file), and
// leave nothing behind.
func TestOutputPathErrors(t *testing.T) {
	bin := buildKpcap(t)
	trace := filepath.Join("..", "..", "testdata", "kernels", "openat-6.12.pcapng.zst")
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nodir", "x.parquet")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"replay", "-q", "-o", sub, trace}, "kpcap replay: create " + sub + ": is a directory\n"},
		{[]string{"replay", "-q", "-f", "parquet", "-o", sub, trace}, "kpcap replay: create " + sub + ": is a directory\n"},
		{[]string{"replay", "-q", "-o", missing, trace}, "kpcap replay: create " + missing + ": no such file or directory\n"},
		// A directory is read as a set of trace files; this one has none.
		{[]string{"replay", dir}, "kpcap replay: " + dir + ": a directory without trace files (*.zst)\n"},
		{[]string{"analyze", "summary", dir}, "kpcap analyze: " + dir + ": a directory without trace files (*.zst)\n"},
	} {
		r := runCLI(t, bin, tc.args...)
		if r.code != 1 || r.stderr != tc.msg {
			t.Errorf("kpcap %q: exit %d, stderr %q; want exit 1, %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "sub" {
			t.Errorf("left behind in the output's directory: %s", e.Name())
		}
	}
	if ents, _ := os.ReadDir(sub); len(ents) > 0 {
		t.Errorf("left behind in %s: %s", sub, ents[0].Name())
	}
}
