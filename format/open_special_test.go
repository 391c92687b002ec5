//go:build unix

package format

import (
	"strings"
	"testing"
)

// TestOpenNotRegular checks that a device (or a pipe, such as /dev/stdin fed
// by cat) gets a message saying what to do, not "file of 0 bytes is too short".
func TestOpenNotRegular(t *testing.T) {
	_, err := Open("/dev/null")
	if err == nil || !strings.Contains(err.Error(), "open /dev/null: not a regular file") {
		t.Errorf("Open(/dev/null) = %v, want a 'not a regular file' error naming it", err)
	}
}
