package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/internal/testtrace"
)

// maxReportBytes bounds the report of any trace with the default limits:
// items, density cells and loss ticks are capped, whatever the trace size.
const maxReportBytes = 16 << 20

// TestTimelineChromiumMillion renders the report of a trace of about a
// million events: bounded size, density when zoomed out, the kept items
// where zoomed in, and the omission stated. It logs the report's size and
// the page's load-to-first-draw time (not asserted).
func TestTimelineChromiumMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 1M-event trace")
	}
	requireTool(t, chromiumPath)
	start := time.Now()
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "big.pcapng.zst"), "6.1.0-test", "", 227_000, 1, 100)
	gen := time.Since(start)
	start = time.Now()
	html, ta := timelineReport(t, path, analyze.TimelineOptions{})
	took := time.Since(start)
	tl := ta.Timeline
	if ta.Summary.Events < 1_000_000 {
		t.Fatalf("only %d events", ta.Summary.Events)
	}
	st, err := os.Stat(html)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > maxReportBytes {
		t.Errorf("report of %d events is %d bytes, bound %d", ta.Summary.Events, st.Size(), maxReportBytes)
	}
	kept := len(tl.Slices.Start) + len(tl.Instants.T)
	if tl.OmittedSlices == 0 || kept > analyze.DefaultTimelineItems+len(tl.Funcs)*10 {
		t.Errorf("kept %d items, omitted %d slices", kept, tl.OmittedSlices)
	}
	b, _ := os.ReadFile(html)
	if !strings.Contains(string(b), fmt.Sprintf("%d of %d pairs", len(tl.Slices.Start), tl.Pairs)) {
		t.Error("the report does not say how many pairs it left out")
	}
	url := "file://" + html
	a, full := timelineShot(t, url)
	if a["mode"] != "density" || a["drawn-slices"] != "0" {
		t.Errorf("zoomed out: mode %s, %s slices drawn; want density only", a["mode"], a["drawn-slices"])
	}
	// Window 0 always keeps its items.
	v1 := tl.WindowNS / 8
	z, zoomed := timelineShot(t, fmt.Sprintf("%s#tl=0,%d", url, v1))
	ws, _ := inView(tl, 0, v1)
	if z["mode"] != "items" || atoi(t, z["drawn-slices"]) != ws || ws == 0 {
		t.Errorf("zoomed in: mode %s, %s slices drawn, %d in view", z["mode"], z["drawn-slices"], ws)
	}
	t.Logf("%d events (trace written in %v), report %d bytes written in %v; %d of %d pairs and %d of %d instants embedded; page loaded and drawn in %s ms (zoomed out) / %s ms (zoomed in)",
		ta.Summary.Events, gen.Round(time.Millisecond), st.Size(), took.Round(time.Millisecond), len(tl.Slices.Start), tl.Pairs, len(tl.Instants.T), tl.InstantsTotal, a["init-ms"], z["init-ms"])
	keepPNG(t, "million-full.png", full)
	keepPNG(t, "million-zoomed.png", zoomed)
}
