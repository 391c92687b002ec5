package flame

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

func sample() *Profile {
	p := New("samples")
	p.Add([]string{"bash", "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_openat", "do_sys_openat2"}, 5)
	p.Add([]string{"bash", "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_read", "vfs_read"}, 3)
	p.Add([]string{"bash", "entry_SYSCALL_64", "do_syscall_64", "__x64_sys_openat", "do_sys_openat2"}, 2)
	p.Add([]string{"cat", "main;weird"}, 1) // ';' inside a frame name
	p.Add([]string{"zero"}, 0)              // dropped
	return p
}

func TestFolded(t *testing.T) {
	p := sample()
	var b bytes.Buffer
	if err := p.WriteFolded(&b); err != nil {
		t.Fatal(err)
	}
	want := "bash;entry_SYSCALL_64;do_syscall_64;__x64_sys_openat;do_sys_openat2 7\n" +
		"bash;entry_SYSCALL_64;do_syscall_64;__x64_sys_read;vfs_read 3\n" +
		"cat;main:weird 1\n"
	if b.String() != want {
		t.Fatalf("folded:\n%s\nwant:\n%s", b.String(), want)
	}
	if p.Total != 11 || p.Len() != 3 {
		t.Fatalf("total %d len %d", p.Total, p.Len())
	}
	q, err := ReadFolded(strings.NewReader(b.String()), "samples")
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	q.WriteFolded(&b2)
	if b2.String() != want {
		t.Fatalf("round trip:\n%s", b2.String())
	}
	for _, bad := range []string{"a;b\n", "a;b x\n", "5\n"} {
		if _, err := ReadFolded(strings.NewReader(bad), "samples"); err == nil {
			t.Errorf("ReadFolded(%q) accepted", bad)
		}
	}
}

func TestMap(t *testing.T) {
	p := New("samples")
	p.Add([]string{"a", "f.isra.0"}, 1)
	p.Add([]string{"a", "f"}, 2)
	q := p.Map(func(s string) string { return strings.TrimSuffix(s, ".isra.0") })
	if q.Len() != 1 || q.Weight("a;f") != 3 {
		t.Fatalf("merged: %v", q.Stacks())
	}
}

// checkXML parses the SVG fully and returns its frame titles.
func checkXML(t *testing.T, data []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var titles []string
	inTitle := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			inTitle = x.Name.Local == "title"
		case xml.EndElement:
			inTitle = false
		case xml.CharData:
			if inTitle {
				titles = append(titles, string(x))
			}
		}
	}
	return titles
}

func TestSVG(t *testing.T) {
	var b bytes.Buffer
	err := WriteSVG(&b, sample(), SVGOptions{Title: "Flame <test> & co", Subtitle: "lost: 0", Standalone: true})
	if err != nil {
		t.Fatal(err)
	}
	titles := checkXML(t, b.Bytes())
	joined := strings.Join(titles, "\n")
	for _, want := range []string{"all (11 samples, 100.00%)", "do_sys_openat2 (7 samples, 63.64%)", "vfs_read (3 samples, 27.27%)", "main:weird (1 samples, 9.09%)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing frame %q in:\n%s", want, joined)
		}
	}
	if len(titles) != 10 { // all, bash, entry, do_syscall_64, 2 sys, 2 leaves, cat, main:weird
		t.Errorf("%d frames, want 10", len(titles))
	}
	s := b.String()
	for _, want := range []string{"Flame &lt;test&gt; &amp; co", "<script><![CDATA[", "addEventListener('click'", "http://www.w3.org/2000/svg"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?i)(href|src)="https?:`).MatchString(s) {
		t.Error("SVG references the network")
	}
	// Children lie within their parent: the leaf do_sys_openat2 has x of its
	// parent and 7/11 of the width.
	if !strings.Contains(s, `data-w="0.63636364" data-d="5" data-n="do_sys_openat2"`) {
		t.Errorf("leaf geometry wrong")
	}
}

func TestSVGEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSVG(&b, New("samples"), SVGOptions{Title: "empty", Standalone: true}); err != nil {
		t.Fatal(err)
	}
	checkXML(t, b.Bytes())
}

func TestDiffSVG(t *testing.T) {
	a := New("samples")
	a.Add([]string{"x", "grow"}, 10)
	a.Add([]string{"x", "shrink"}, 90)
	a.Add([]string{"x", "same"}, 100)
	b := New("samples")
	b.Add([]string{"x", "grow"}, 180)
	b.Add([]string{"x", "shrink"}, 20)
	b.Add([]string{"x", "same"}, 200) // same share: 50%
	var buf bytes.Buffer
	if err := WriteDiffSVG(&buf, a, b, SVGOptions{Title: "diff", Standalone: true}); err != nil {
		t.Fatal(err)
	}
	checkXML(t, buf.Bytes())
	s := buf.String()
	fill := func(name string) string {
		m := regexp.MustCompile(`data-n="` + name + `"><title>[^<]*</title><rect [^>]*fill="([^"]+)"`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no frame %s", name)
		}
		return m[1]
	}
	if f := fill("grow"); f != "rgb(255,50,50)" { // largest change: full red
		t.Errorf("grow fill %s", f)
	}
	if f := fill("shrink"); !strings.HasPrefix(f, "rgb(") || !strings.HasSuffix(f, ",255)") || f == "rgb(225,225,225)" {
		t.Errorf("shrink fill %s", f)
	}
	if f := fill("same"); f != "rgb(225,225,225)" {
		t.Errorf("same fill %s", f)
	}
	if !strings.Contains(s, "grow: 5.000% → 45.000% (+40.000 points)") {
		t.Errorf("diff tooltip missing")
	}
}

func TestPprof(t *testing.T) {
	var b bytes.Buffer
	if err := WritePprof(&b, sample(), PprofOptions{DurationNS: 1e9}); err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, s := range prof.Sample {
		total += s.Value[0]
	}
	if total != 11 || len(prof.Sample) != 3 {
		t.Fatalf("total %d samples %d", total, len(prof.Sample))
	}
	leaf := prof.Sample[0].Location[0].Line[0].Function.Name
	if leaf != "do_sys_openat2" {
		t.Fatalf("first sample leaf %q", leaf)
	}
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	if _, err := exec.LookPath(gobin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go tool not found: %v", err)
		}
		t.Skip("go tool not found")
	}
	path := filepath.Join(t.TempDir(), "p.pb.gz")
	os.WriteFile(path, b.Bytes(), 0o644)
	out, err := exec.Command(gobin, "tool", "pprof", "-top", path).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^\s+7\s+63\.64%.*do_sys_openat2$`).Match(out) {
		t.Fatalf("pprof -top output lacks do_sys_openat2 with 7 samples:\n%s", out)
	}
}

func FuzzReadFolded(f *testing.F) {
	f.Add("a;b;c 3\nx 1\n")
	f.Add("a b c 12\n\n")
	f.Add("; 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ReadFolded(strings.NewReader(s), "samples")
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := p.WriteFolded(&b); err != nil {
			t.Fatal(err)
		}
		q, err := ReadFolded(&b, "samples")
		if err != nil || q.Total != p.Total {
			t.Fatalf("round trip: %v total %d vs %d", err, q.Total, p.Total)
		}
	})
}

// TestSVGScriptInChromium runs the inline script in headless Chromium:
// search highlights and measures matches, zoom hides frames outside the
// zoomed subtree and widens the ones inside.
func TestSVGScriptInChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium required under CI: %v", err)
		}
		t.Skip("chromium not installed")
	}
	var svg bytes.Buffer
	if err := WriteSVG(&svg, sample(), SVGOptions{Title: "t"}); err != nil {
		t.Fatal(err)
	}
	// Frame 6 in document order is __x64_sys_read (all, bash, entry,
	// do_syscall_64, __x64_sys_openat, do_sys_openat2, __x64_sys_read).
	page := "<!DOCTYPE html><html><body>" + svg.String() + `<script>
var s = document.querySelector('svg.kpcap-flame');
s.kpcapSearch('openat2$');
var matched = s.querySelector('.matched').textContent;
var gs = Array.prototype.slice.call(s.querySelectorAll('g.f'));
s.kpcapZoom(6);
var hidden = gs.filter(function(g){ return g.style.display === 'none'; }).length;
var leaf = gs.filter(function(g){ return g.getAttribute('data-n') === 'vfs_read'; })[0].querySelector('rect').getAttribute('width');
document.body.setAttribute('data-result', matched + '|' + hidden + '|' + leaf);
</script></body></html>`
	path := filepath.Join(t.TempDir(), "flame.html")
	os.WriteFile(path, []byte(page), 0o644)
	out, err := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+path).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`data-result="([^"]*)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("script did not run:\n%s", out)
	}
	// 7 of 11 samples end in do_sys_openat2; zooming into __x64_sys_read
	// hides the openat branch (2 frames) and the cat branch (2 frames);
	// vfs_read then spans the whole width (1180 px - 0.5).
	if got := string(m[1]); got != "Matched: 63.6%|4|1179.50" {
		t.Fatalf("result %q", got)
	}
}
