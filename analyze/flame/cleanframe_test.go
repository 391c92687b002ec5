package flame

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// TestCleanFrameControlBytes checks that a frame name (a command name is the
// root frame) cannot end a folded record early or carry an escape sequence.
func TestCleanFrameControlBytes(t *testing.T) {
	for in, want := range map[string]string{
		"do_sys_openat2":       "do_sys_openat2",
		"main;weird":           "main:weird",
		"ev;il\n\x1b[31mX\r\t": `ev:il\n\x1b[31mX\r\t`,
	} {
		if got := CleanFrame(in); got != want {
			t.Errorf("CleanFrame(%q) = %q, want %q", in, got, want)
		}
	}
	p := New("samples")
	p.Add([]string{"ev\nil", "x\x1b[2J"}, 2)
	var b bytes.Buffer
	if err := p.WriteFolded(&b); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "ev\\nil;x\\x1b[2J 2\n"; got != want {
		t.Errorf("folded %q, want %q", got, want)
	}
}

// TestSVGWithControlBytes checks that the SVG stays well-formed XML (which
// forbids most control bytes, even escaped) when a command name has some.
func TestSVGWithControlBytes(t *testing.T) {
	p := New("samples")
	p.Add([]string{"ev\x1b[31m\x01il", "f"}, 3)
	var b bytes.Buffer
	if err := WriteSVG(&b, p, SVGOptions{Title: "t", Standalone: true}); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
	}
}
