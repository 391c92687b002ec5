package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

// Hostile strings from a trace: a command name set with prctl, a uprobe
// string field and a user symbol, with terminal escapes, newlines and markup.
const (
	evilComm  = "ev\x1b[31mil\n</script>"
	evilFile  = "/tmp/</script><script>alert(1)</script>\x1b]0;pwned\x07\r"
	evilFrame = "sym\x1b[2J\x7f<!--"
)

// hostileTrace writes a trace whose comm, string field and user frame carry
// control bytes and "</script>", with stacks and enter/exit pairs.
func hostileTrace(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "evil.pcapng.zst")
	g := testtrace.New(t, path, "6.18.0", []testtrace.Source{
		{Src: format.Source{Name: "syscalls:sys_enter_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_enter_openat"}, Format: "sys_enter_openat"},
		{Src: format.Source{Name: "syscalls:sys_exit_openat", Kind: format.KindTracepoint, Definition: "syscalls:sys_exit_openat"}, Format: "sys_exit_openat"},
		{Src: format.Source{Name: "kpcap:open", Kind: format.KindUprobe, Definition: "p:open /bin/bash:0x30000", Target: "/bin/bash:0x30000"}, Format: "uprobe_open"},
	})
	g.W.AddSymbols(testtrace.KernelSyms(""))
	g.W.AddUserFrames([]format.UserFrame{{PID: 100, Addr: 0x401000, Name: evilFrame, Object: "/usr/bin/evil"}})
	g.W.AddComm(format.Comm{PID: 100, TID: 100, Comm: evilComm})
	chain := []uint64{testtrace.CtxKernel, 0xffffffff81003010, 0xffffffff81002010, testtrace.CtxUser, 0x401000}
	ts := uint64(1_000_000_000)
	for i := range 20 {
		g.Sample(0, ts, 0, 100, 100, map[string]any{"__syscall_nr": 257, "dfd": -100, "filename": 0x7ffe0000, "flags": 0}, chain)
		g.Sample(2, ts+10, 0, 100, 100, map[string]any{"dfd": -100, "filename": evilFile, "flags": 0}, nil)
		g.Sample(1, ts+1000+uint64(i), 0, 100, 100, map[string]any{"__syscall_nr": 257, "ret": 3}, nil)
		ts += 10_000
	}
	g.Close(nil)
	return path
}

func hostileReport(t *testing.T) (string, *Data) {
	t.Helper()
	path := hostileTrace(t)
	r, err := replay.Open(path, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ta, err := analyze.Analyze(r, analyze.SummaryOptions{}, analyze.LatencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ta.Summary.File = path
	d := &Data{Title: "kpcap report: " + evilComm, Generated: time.Unix(0, 0), Summary: ta.Summary, Latency: ta.Latency, Flame: ta.Flame}
	var b bytes.Buffer
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String(), d
}

// TestWriteEscapesTraceStrings renders a report of a hostile trace: no raw
// control byte anywhere, the escaped forms shown instead, every SVG well
// formed XML, and the inline JSON neither ends its <script> early nor loses
// the (escaped) values.
func TestWriteEscapesTraceStrings(t *testing.T) {
	s, d := hostileReport(t)
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n') || c == 0x7f {
			lo, hi := max(0, i-60), min(len(s), i+60)
			t.Fatalf("raw control byte %#x at %d: %q", c, i, s[lo:hi])
		}
	}
	// The caller's data is not modified.
	if d.Summary.Comms[0].Name != evilComm {
		t.Errorf("Write changed the caller's summary: comm %q", d.Summary.Comms[0].Name)
	}
	// Escaped as the text outputs print them, then HTML-escaped.
	for _, want := range []string{
		`ev\x1b[31mil\n&lt;/script&gt;`,                                               // comm in tables and title
		`/tmp/&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;\x1b]0;pwned\x07\r`, // field top values
		`sym\x1b[2J\x7f&lt;!--`,                                                       // flame frame
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(s, "<script>alert(1)") || strings.Contains(s, "<!--") {
		t.Error("markup from the trace reached the HTML")
	}

	// Every SVG (rate, histograms, flame graph) parses as XML, and its text
	// holds the escaped names.
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(s, -1)
	if len(svgs) < 3 {
		t.Fatalf("%d SVGs in the report, want rate, histogram(s) and flame graph", len(svgs))
	}
	var flameText string
	for i, svg := range svgs {
		dec := xml.NewDecoder(strings.NewReader(svg))
		var text strings.Builder
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("SVG %d is not well-formed XML: %v", i, err)
			}
			switch tok := tok.(type) {
			case xml.CharData:
				text.Write(tok)
			case xml.StartElement:
				for _, a := range tok.Attr {
					text.WriteString(" " + a.Value)
				}
			}
		}
		if strings.Contains(svg, "kpcap-flame") {
			flameText = text.String()
		}
	}
	for _, want := range []string{`ev\x1b[31mil\n</script>`, `sym\x1b[2J\x7f<!--`} {
		if !strings.Contains(flameText, want) {
			t.Errorf("flame graph SVG text lacks %q", want)
		}
	}

	// The page script: its data is one JSON value with no '<' (so no
	// "</script" or "<!--" can end or confuse it), decoding to the escaped strings.
	m := regexp.MustCompile(`(?s)<script>\n\(function\(\)\{\n  var data = (.*?);\n  document`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("page script not found")
	}
	if strings.ContainsAny(m[1], "<>") {
		t.Errorf("inline JSON holds '<' or '>': %.200s", m[1])
	}
	var data struct {
		Summary analyze.Summary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("inline JSON: %v", err)
	}
	if got, want := data.Summary.Comms[0].Name, replay.EscapeControl(evilComm); got != want {
		t.Errorf("inline JSON comm %q, want %q", got, want)
	}
	var field string
	for _, f := range data.Summary.Fields {
		if f.Field == "filename" || strings.HasSuffix(f.Field, ".filename") {
			for _, v := range f.Values {
				if strings.HasPrefix(v.Name, "/tmp/") {
					field = v.Name
				}
			}
		}
	}
	if want := replay.EscapeControl(evilFile); field != want {
		t.Errorf("inline JSON filename %q, want %q (fields %+v)", field, want, data.Summary.Fields)
	}
}

// TestChromiumHostile loads the hostile report in headless Chromium: both
// scripts still run (a "</script>" in the data would cut the page script
// short) and the DOM has no element a trace string injected.
func TestChromiumHostile(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	requireTool(t, chromium)
	s, _ := hostileReport(t)
	html := filepath.Join(t.TempDir(), "evil.html")
	if err := os.WriteFile(html, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--enable-logging=stderr", "--v=0", "--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+html)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, e.String())
	}
	dom := o.String()
	for _, l := range strings.Split(e.String(), "\n") {
		if strings.Contains(l, "Uncaught") || strings.Contains(l, "CONSOLE") && strings.Contains(l, "ERROR") {
			t.Errorf("console error: %s", l)
		}
	}
	if !strings.Contains(dom, `data-report-ready="1"`) || !strings.Contains(dom, `data-ready="1"`) {
		t.Error("a script of the page did not run")
	}
	if strings.Count(dom, "<script>") != 2 || strings.Contains(dom, "alert(1)</script>") {
		t.Errorf("trace data injected a script element: %d <script> in the DOM", strings.Count(dom, "<script>"))
	}
	if !strings.Contains(dom, `pwned\\x07`) && !strings.Contains(dom, `pwned\x07`) {
		t.Error("raw JSON with the escaped filename not rendered")
	}
}
