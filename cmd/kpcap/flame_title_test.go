//go:build linux

package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestFlameSVGHostileFileName: kpcap analyze flame --svg titles the graph
// with the trace's file name, which on Linux may hold any byte but '/' and
// NUL. The SVG must stay well-formed XML whatever the name holds.
func TestFlameSVGHostileFileName(t *testing.T) {
	bin := buildKpcap(t)
	trace := replayTrace(t, 40)
	dir := t.TempDir()
	for _, tc := range []struct{ name, title string }{
		{"a\x01b.zst", `Flame graph: a\x01b.zst`},
		{"<x>&amp;]]>.zst", "Flame graph: <x>&amp;]]>.zst"},
		{"bad\xff\xc3.zst", `Flame graph: bad\xff\xc3.zst`},
		{"esc\x1b[2J\n.zst", `Flame graph: esc\x1b[2J\n.zst`},
	} {
		in := filepath.Join(dir, tc.name)
		data, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		svg := filepath.Join(dir, "out.svg")
		if r := runCLI(t, bin, "analyze", "flame", "-q", "--svg", svg, in); r.code != 0 {
			t.Fatalf("analyze flame --svg %q: exit %d: %s", tc.name, r.code, r.stderr)
		}
		out, err := os.ReadFile(svg)
		if err != nil {
			t.Fatal(err)
		}
		// Parse it all (well-formedness); the title is the first <text>.
		d := xml.NewDecoder(bytes.NewReader(out))
		title, texts := "", 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("file %q: SVG is not well-formed: %v", tc.name, err)
			}
			switch x := tok.(type) {
			case xml.StartElement:
				if x.Name.Local == "text" {
					texts++
				}
			case xml.CharData:
				if texts == 1 {
					title += string(x)
				}
			case xml.EndElement:
				if x.Name.Local == "text" && texts == 1 {
					texts++ // the title is complete
				}
			}
		}
		if title != tc.title {
			t.Errorf("file %q: title %q, want %q", tc.name, title, tc.title)
		}
	}
}
