package warn

import (
	"errors"
	"strings"
	"testing"
)

// TestWarnGroupsCap: variants of one kind beyond the cap are counted, and a
// warning of a new kind is still shown after the cap is reached.
func TestWarnGroupsCap(t *testing.T) {
	var g Groups
	for i := range 2 * MaxKinds {
		g.Add("source %s: cannot parse: %v", "s", errors.New(strings.Repeat("x", i+1)))
	}
	g.Add("%d sources skipped", 3)
	lines := g.Lines()
	if len(lines) != MaxKinds+2 {
		t.Fatalf("%d lines, want %d kinds, the new kind and the dropped count", len(lines), MaxKinds+2)
	}
	if lines[MaxKinds] != "3 sources skipped" || lines[MaxKinds+1] != "... and 50 more warnings" {
		t.Errorf("tail %q", lines[MaxKinds:])
	}
	if got := maskNumbers("frame 12 at offset 0x1f: CRC-32C deadbeef, says 0a0b0c0d"); got != "frame # at offset #: CRC-# #, says #" {
		t.Errorf("maskNumbers: %q", got)
	}
}
