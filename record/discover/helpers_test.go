package discover

import (
	"os"
	"testing"
)

// needHost skips (fails under CI=true, where the machine has it) when a host
// file a test reads is missing.
func needHost(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", path, err)
		}
		t.Skipf("%s: %v", path, err)
	}
}
