package analyze

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestTextEscapesTraceStrings checks that names from a trace file (a command
// name set with prctl, a note, the host) cannot break a table row or send an
// escape sequence to the terminal.
func TestTextEscapesTraceStrings(t *testing.T) {
	evil := "ev;il\n\x1b[31mX\t"
	s := &Summary{
		File:  "t.pcapng.zst",
		Host:  format.Host{Hostname: "h\x1b]0;pwned\x07", Kernel: "6.18"},
		Notes: []string{"note\x1b[2J"},
		Comms: []NameCount{{Name: evil, Count: 2}, {Name: "cat", Count: 1}},
		PIDs:  []PIDCount{{PID: 7, Comm: evil, Events: 2}},
	}
	var b bytes.Buffer
	if err := WriteSummaryText(&b, s, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\t\r") {
		t.Errorf("raw control bytes in:\n%q", out)
	}
	for _, want := range []string{
		`h\x1b]0;pwned\x07`, `note\x1b[2J`,
		"  ev;il\\n\\x1b[31mX\\t  2       \n  cat                 1       \n",
		"  7    ev;il\\n\\x1b[31mX\\t  2       \n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
