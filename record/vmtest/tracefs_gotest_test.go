//go:build linux

package vmtest

import (
	"os"
	"strings"
	"testing"
)

// TestTracefsPackageInVM runs record/internal/tracefs's tests (with the kprobe tests
// that only exist under the kpcapvm tag) inside each kernel and requires
// every one of them to pass, none to skip.
func TestTracefsPackageInVM(t *testing.T) {
	forEachKernel(t, "tracefs_gotest", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "gotest exit", "0")
		path, ok := j.Files["gotest.txt"]
		if !ok {
			t.Fatalf("no gotest.txt came back; job log:\n%s", j.Log)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out := string(b)
		if !strings.Contains(out, "--- PASS: TestKprobeLifecycle") {
			t.Errorf("TestKprobeLifecycle did not pass on %s:\n%s", res.Release, out)
		}
		if strings.Contains(out, "--- FAIL") || strings.Contains(out, "--- SKIP") {
			t.Errorf("record/internal/tracefs tests failed or skipped on %s:\n%s", res.Release, out)
		}
	})
}
