//go:build linux

package record

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestWriteErrorNamesFileOnce records into /dev/full: the error must say
// why, and name the file once, not once per wrapping layer.
func TestWriteErrorNamesFileOnce(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := runDirect(ctx, Options{Output: "/dev/full", Duration: 100 * time.Millisecond}, tracepointSource(t, "syscalls", "sys_enter_getppid"))
	if err == nil {
		t.Fatal("recording into /dev/full succeeded")
	}
	msg := err.Error()
	if n := strings.Count(msg, "/dev/full"); n != 1 || !strings.Contains(msg, "no space left") {
		t.Errorf("error %q names /dev/full %d times, want once with the reason", msg, n)
	}
}
