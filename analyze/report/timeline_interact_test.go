package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/internal/testtrace"
)

// nodeModules is where .ci/run installs the npm packages tests use.
func nodeModules() string {
	dir := os.Getenv("KPCAP_CACHE")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "kpcap")
	}
	return filepath.Join(dir, "node", "node_modules")
}

// TestTimelineInteract drives the timeline with Playwright: keys and the
// mouse wheel zoom, keys and dragging pan, an outlier link and a click on
// the slice show its fields (testdata/interact.mjs).
func TestTimelineInteract(t *testing.T) {
	requireTool(t, chromiumPath)
	node, err := exec.LookPath("node")
	mods := nodeModules()
	if err == nil {
		_, err = os.Stat(filepath.Join(mods, "playwright-core"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but node with playwright-core in %s is needed (see .ci/run): %v", mods, err)
		}
		t.Skipf("node with playwright-core in %s is needed (see .ci/run): %v", mods, err)
	}
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", "", 300, 1, 5)
	html, _ := timelineReport(t, path, analyze.TimelineOptions{})
	// ES modules ignore NODE_PATH: run the script from a directory whose
	// node_modules points at the installed packages.
	run := t.TempDir()
	if err := os.Symlink(mods, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "interact.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "interact.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(run, "interact.mjs"), html, "syscall:openat")
	cmd.Dir = run
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || strings.Contains(string(out), "FAIL") || strings.Count(string(out), "ok ") < 10 {
		t.Fatalf("timeline interaction: %v", err)
	}
}
