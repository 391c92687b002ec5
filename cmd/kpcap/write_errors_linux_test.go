package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteErrorsNameEachContextOnce writes every kind of output to
// /dev/full, whose writes fail with ENOSPC: the message names the command,
// the trace and the output once each (the command's prefix, an error
// wrapped again by its caller, or an os error already naming the path
// were each said twice).
func TestWriteErrorsNameEachContextOnce(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skipf("no /dev/full to fail writes: %v", err)
	}
	bin := buildKpcap(t)
	a := filepath.Join("..", "..", "testdata", "kernels", "openat-6.1.pcapng.zst")
	b := filepath.Join("..", "..", "testdata", "kernels", "openat-6.12.pcapng.zst")
	const full = "write /dev/full: no space left on device\n"
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"replay", "-q", "-f", "perfetto", "-o", "/dev/full", a}, "kpcap replay: " + a + ": write perfetto trace: " + full},
		{[]string{"replay", "-q", "-f", "text", "-o", "/dev/full", a}, "kpcap replay: " + a + ": " + full},
		{[]string{"replay", "-q", "-f", "json", "-o", "/dev/full", a}, "kpcap replay: " + a + ": " + full},
		{[]string{"analyze", "flame", "-q", "--pprof", "/dev/full", a}, "kpcap analyze: " + full},
		{[]string{"analyze", "flame", "-q", "--svg", "/dev/full", a}, "kpcap analyze: " + full},
		{[]string{"analyze", "flame", "-q", "-o", "/dev/full", a}, "kpcap analyze: " + full},
		{[]string{"analyze", "report", "-q", "-o", "/dev/full", a}, "kpcap analyze: " + full},
		{[]string{"analyze", "diff", "-q", "--svg", "/dev/full", a, b}, "kpcap analyze: " + full},
	} {
		r := runCLI(t, bin, tc.args...)
		if r.code != 1 || r.stderr != tc.msg {
			t.Errorf("kpcap %q: exit %d, stderr %q; want exit 1, %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}
