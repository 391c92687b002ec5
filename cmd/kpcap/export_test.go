package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportCLI(t *testing.T) {
	bin := buildKpcap(t)
	ds := filepath.Join(t.TempDir(), "ds")
	glob := filepath.Join("..", "..", "testdata", "kernels", "openat-*.pcapng.zst")

	// The glob is expanded by kpcap (quoted, as a person would for many files).
	r := runCLI(t, bin, "export", "--json", ds, glob)
	if r.code != 0 {
		t.Fatalf("export: %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one JSON line per trace:\n%s", r.stdout)
	}
	kernels := map[string]bool{}
	for _, l := range lines {
		var res struct {
			TraceID string `json:"trace_id"`
			Kernel  string `json:"kernel"`
			Skipped bool   `json:"skipped"`
			Events  int64  `json:"events"`
		}
		if err := json.Unmarshal([]byte(l), &res); err != nil {
			t.Fatal(err)
		}
		if res.Skipped || res.Events == 0 || len(res.TraceID) != 32 {
			t.Errorf("result %s", l)
		}
		kernels[res.Kernel] = true
		if _, err := os.Stat(filepath.Join(ds, "traces", "part-"+res.TraceID+".parquet")); err != nil {
			t.Error(err)
		}
	}
	if len(kernels) != 2 {
		t.Errorf("kernels %v", kernels)
	}
	// Again: nothing added, said on stderr.
	r = runCLI(t, bin, "export", ds, glob)
	if r.code != 0 || !strings.Contains(r.stderr, "0 traces added (0 events") || !strings.Contains(r.stderr, "2 already in") {
		t.Fatalf("re-export: %d\n%s", r.code, r.stderr)
	}
	if r := runCLI(t, bin, "export", "-q", ds, glob); r.code != 0 || r.stderr != "" {
		t.Fatalf("-q: %d %q", r.code, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"export", ds}, 2, "want a dataset DIR and at least one TRACE"},
		{[]string{"export", ds, filepath.Join(t.TempDir(), "*.zst")}, 2, "no file matches"},
		{[]string{"export", "-j", "0", ds, glob}, 2, "--jobs must be positive"},
		{[]string{"export", ds, filepath.Join(t.TempDir(), "missing.zst")}, 1, "1 of 1 traces failed"},
	} {
		r := runCLI(t, bin, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("kpcap %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
	// A directory holding something else is refused.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "_kpcap_dataset.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, bin, "export", other, glob); r.code != 1 || !strings.Contains(r.stderr, "not a kpcap dataset") {
		t.Errorf("export into a foreign dir: %d %q", r.code, r.stderr)
	}
}
