package analyze

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/format"
)

// TestFamilyRanking: a pattern's functions (one uprobe/uretprobe pair per
// matched function, as -p 'p BIN:*' and -p 'r BIN:*' record them) are ranked
// by total time and by calls in latency, and by events in the summary, the
// silent ones counted instead of listed. Function fN is called N+1 times for
// (30-N) µs each: the rankings by calls and by total time differ.
func TestFamilyRanking(t *testing.T) {
	const n = 30
	var srcs []testtrace.Source
	for i := range n {
		target := fmt.Sprintf("/bin/app:f%02d", i)
		srcs = append(srcs,
			testtrace.Source{Src: format.Source{Name: fmt.Sprintf("uprobes:f%02d", i), Kind: format.KindUprobe, Definition: "p /bin/app:f*", Target: target}, Format: "uprobe_open"},
			testtrace.Source{Src: format.Source{Name: fmt.Sprintf("uprobes:f%02d__return", i), Kind: format.KindUretprobe, Definition: "r /bin/app:f*", Target: target}, Format: "uretprobe_open"})
	}
	path := filepath.Join(t.TempDir(), "family.pcapng.zst")
	g := testtrace.New(t, path, "6.1.0-test", srcs)
	g.W.AddComm(format.Comm{PID: 10, TID: 10, Comm: "app"})
	ts := uint64(1_000_000)
	total := 0
	for i := range n - 5 { // the last five functions are never called
		for range i + 1 {
			g.Sample(uint32(2*i), ts, 0, 10, 10, nil, nil)
			ts += uint64(n-i) * 1000
			g.Sample(uint32(2*i+1), ts, 0, 10, 10, nil, nil)
			ts += 100
			total += 2
		}
	}
	g.Close(nil)
	ta, err := Analyze(openReplay(t, path), SummaryOptions{}, LatencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sum, lat bytes.Buffer
	if err := WriteSummaryText(&sum, ta.Summary, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteLatencyText(&lat, ta.Latency); err != nil {
		t.Fatal(err)
	}
	t.Logf("summary:\n%s\nlatency:\n%s", sum.String(), lat.String())

	if ta.Summary.Events != uint64(total) {
		t.Fatalf("summary counts %d events, wrote %d", ta.Summary.Events, total)
	}
	if !strings.Contains(sum.String(), "(60 sources, ranked by events; 10 without events not listed)") {
		t.Errorf("summary does not rank the family:\n%s", sum.String())
	}
	// Source rows in order: f24 (25 events) first, then its return, f23 ...
	rows := regexp.MustCompile(`(?m)^  (uprobes:f\d\d(?:__return)?)\s`).FindAllStringSubmatch(sum.String(), -1)
	if len(rows) != 50 || rows[0][1] != "uprobes:f24" || rows[1][1] != "uprobes:f24__return" || rows[49][1] != "uprobes:f00__return" {
		t.Errorf("summary rows %v, want 50 ranked by events from f24 to f00", rows)
	}

	// Total time of fi: (i+1)(30-i) µs, largest at i=14/15 (240 µs); calls: f24 first.
	byTime := section(t, lat.String(), "Functions ranked by total time (20 of 30):")
	if len(byTime) < 2 || !strings.HasSuffix(byTime[0], "/bin/app:f14") || !strings.HasSuffix(byTime[1], "/bin/app:f15") ||
		!strings.Contains(byTime[0], "240µs") {
		t.Errorf("ranking by total time %q, want f14 then f15 (240µs each)", byTime)
	}
	byCalls := section(t, lat.String(), "Functions ranked by calls (20 of 30):")
	if len(byCalls) < 2 || !strings.HasSuffix(byCalls[0], "/bin/app:f24") || !strings.HasPrefix(strings.TrimSpace(byCalls[0]), "25 ") {
		t.Errorf("ranking by calls %q, want f24 first with 25 calls", byCalls)
	}
}

// section returns the table rows under title (header skipped) up to a blank line.
func section(t *testing.T, text, title string) []string {
	t.Helper()
	_, after, ok := strings.Cut(text, title+"\n")
	if !ok {
		t.Fatalf("no %q in:\n%s", title, text)
	}
	lines := strings.Split(after, "\n")
	var out []string
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		out = append(out, l)
	}
	return out
}
