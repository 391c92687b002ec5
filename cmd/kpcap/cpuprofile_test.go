package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// TestCPUProfileEnv checks that KPCAP_CPUPROFILE writes a CPU profile that
// pprof reads, and that an unwritable path is a warning, not a failure.
func TestCPUProfileEnv(t *testing.T) {
	bin := buildKpcap(t)
	trace, err := filepath.Abs("../../testdata/kernels/openat-6.12.pcapng.zst")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cpu.pprof")
	cmd := exec.Command(bin, "analyze", "summary", trace)
	cmd.Env = append(os.Environ(), "KPCAP_CPUPROFILE="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("analyze summary: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	if len(p.SampleType) == 0 || p.SampleType[0].Type != "samples" {
		t.Errorf("not a CPU profile: sample types %v", p.SampleType)
	}

	cmd = exec.Command(bin, "analyze", "summary", trace)
	cmd.Env = append(os.Environ(), "KPCAP_CPUPROFILE="+filepath.Join(t.TempDir(), "no", "such", "dir", "p"))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("an unwritable KPCAP_CPUPROFILE failed the command: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "KPCAP_CPUPROFILE") {
		t.Errorf("no warning about the unwritable profile:\n%s", b)
	}
}
