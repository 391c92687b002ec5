package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputDashIsStdout runs each command whose output is one stream
// with -o - (or --svg -, --pprof -) into a file, as `> f` does, and again
// writing to a named file: the bytes must be the same, no file named "-"
// may appear, and stdout holds nothing but the output (notes stay on
// stderr).
func TestOutputDashIsStdout(t *testing.T) {
	bin := buildKpcap(t)
	trace, err := filepath.Abs("../../testdata/kernels/openat-6.12.pcapng.zst")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string // the output flag comes last, its value appended
	}{
		{"replay text", []string{"replay", trace, "-o"}},
		{"replay json", []string{"replay", "-f", "json", trace, "-o"}},
		{"replay parquet", []string{"replay", "-f", "parquet", trace, "-o"}},
		{"replay arrow", []string{"replay", "-f", "arrow", trace, "-o"}},
		{"replay perfetto", []string{"replay", "-f", "perfetto", trace, "-o"}},
		{"analyze flame svg", []string{"analyze", "flame", trace, "--svg"}},
		{"analyze flame pprof", []string{"analyze", "flame", trace, "--pprof"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "out")
			if out, err := exec.Command(bin, append(c.args, file)...).CombinedOutput(); err != nil {
				t.Fatalf("kpcap %s FILE: %v\n%s", strings.Join(c.args, " "), err, out)
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("kpcap %s FILE wrote nothing", strings.Join(c.args, " "))
			}
			got, stderr := runToFile(t, bin, dir, append(c.args, "-"))
			if !bytes.Equal(got, want) {
				t.Errorf("-o - wrote %d bytes to stdout, -o FILE %d bytes to the file; they differ", len(got), len(want))
			}
			if _, err := os.Lstat(filepath.Join(dir, "-")); err == nil {
				t.Errorf("a file named - was created")
			}
			if strings.Contains(stderr, "written to -") {
				t.Errorf("stderr names - as a file: %s", stderr)
			}
		})
	}
}

// runToFile runs bin with args in dir, its stdout redirected to a file
// as a shell's `> f` does, and returns that file's bytes and stderr.
func runToFile(t *testing.T, bin, dir string, args []string) ([]byte, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stdout")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, &stderr
	runErr := cmd.Run()
	f.Close()
	if runErr != nil {
		t.Fatalf("kpcap %s: %v\n%s", strings.Join(args, " "), runErr, stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, stderr.String()
}
