package flame

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// svgTexts parses an SVG with encoding/xml, failing on any well-formedness
// error, and returns the title and subtitle lines and the frame names (data-n).
func svgTexts(t *testing.T, data []byte) (title, subtitle string, names []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	texts := 0
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%q", err, data[:min(len(data), 2000)])
		}
		switch x := tok.(type) {
		case xml.StartElement:
			inText = false
			switch x.Name.Local {
			case "text":
				texts++
				inText = texts <= 2
			case "g":
				for _, a := range x.Attr {
					if a.Name.Local == "data-n" {
						names = append(names, a.Value)
					}
				}
			}
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText && texts == 1 {
				title += string(x)
			} else if inText && texts == 2 {
				subtitle += string(x)
			}
		}
	}
	// "]]>" may appear once: closing the script's CDATA section.
	if n := bytes.Count(data, []byte("]]>")); n != 1 {
		t.Errorf("%q appears %d times, want once (the script's CDATA end)", "]]>", n)
	}
	return title, subtitle, names
}

// TestSVGHostileTitle: the default title is built from the trace's file
// name, which may hold any byte but '/' and NUL. Whatever it holds, the SVG
// must stay well-formed XML and show the name, its unprintable bytes spelled
// out as kpcap replay prints them.
func TestSVGHostileTitle(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain.pcapng.zst", "plain.pcapng.zst"},
		{"a\x01b", `a\x01b`},
		{"<svg onload=alert(1)>", "<svg onload=alert(1)>"},
		{"a&b&amp;", "a&b&amp;"},
		{"x]]>y", "x]]>y"},
		{`q"u'o`, `q"u'o`},
		{"bad\xff\xfeutf8\xc3", `bad\xff\xfeutf8\xc3`},
		{"line\nbreak\ttab\rcr\x7f\x1b[31m", `line\nbreak\ttab\rcr\x7f\x1b[31m`},
		{"non\uFFFEchar\uFFFF", `non\ufffechar\uffff`},
		{"é✓ – 日本 \U0001F525 \uFFFD", "é✓ – 日本 \U0001F525 \uFFFD"},
	} {
		for _, diff := range []bool{false, true} {
			p := New("samples")
			p.Add([]string{"main", "f"}, 3)
			var b bytes.Buffer
			o := SVGOptions{Title: "Flame graph: " + tc.in, Subtitle: "trace " + tc.in, Standalone: true}
			var err error
			if diff {
				err = WriteDiffSVG(&b, p, p, o)
			} else {
				err = WriteSVG(&b, p, o)
			}
			if err != nil {
				t.Fatal(err)
			}
			title, sub, _ := svgTexts(t, b.Bytes())
			if title != "Flame graph: "+tc.want || sub != "trace "+tc.want {
				t.Errorf("title %q, subtitle %q: got %q, %q; want the name shown as %q", tc.in, tc.in, title, sub, tc.want)
			}
		}
	}
}

// TestSVGHostileFrameNames: frame names come from traced programs (command
// names, user symbols); invalid UTF-8 there must not break the XML either.
func TestSVGHostileFrameNames(t *testing.T) {
	p := New("samples")
	p.Add([]string{"comm\xff\xfe", "sym]]>&<", "f\uFFFF"}, 5)
	var b bytes.Buffer
	if err := WriteSVG(&b, p, SVGOptions{Title: "t", Standalone: true}); err != nil {
		t.Fatal(err)
	}
	_, _, names := svgTexts(t, b.Bytes())
	want := []string{"all", `comm\xff\xfe`, "sym]]>&<", `f\uffff`}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("frame names %q, want %q", names, want)
	}
}

// FuzzSVGWellFormed: any title, subtitle or frame name gives well-formed XML.
func FuzzSVGWellFormed(f *testing.F) {
	f.Add("a\x01<&]]>\xff", "sub", "comm\xc3", "sym;x")
	f.Add("", "", "", "")
	f.Add("\uFFFE", "\t\n", "\x00", "\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, title, sub, f1, f2 string) {
		p := New("samples")
		p.Add([]string{f1, f2}, 1)
		var b bytes.Buffer
		if err := WriteSVG(&b, p, SVGOptions{Title: title, Subtitle: sub, Standalone: true}); err != nil {
			t.Fatal(err)
		}
		svgTexts(t, b.Bytes())
	})
}
