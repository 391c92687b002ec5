package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestInfoEscapesFileStrings checks that kpcap info prints the strings of a
// trace file (notes, host, source names) without raw control bytes.
func TestInfoEscapesFileStrings(t *testing.T) {
	in := &infoJSON{
		File:     "t.pcapng.zst",
		Hostname: "h\x1b]0;pwned\x07",
		Notes:    []string{"note\x1b[31m red\nsecond line"},
		Probes:   []infoProbe{{Name: "uprobes:p\x1b[2J", Kind: "uprobe", Definition: "p /bin/x:f"}},
	}
	var b bytes.Buffer
	if err := printInfo(&b, in); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("raw control bytes in:\n%q", out)
	}
	for _, want := range []string{`h\x1b]0;pwned\x07`, "  - note\\x1b[31m red\nsecond line\n", `uprobes:p\x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
}
