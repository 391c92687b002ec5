package report

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/internal/testtrace"
	"github.com/kpcap/kpcap/replay"
)

// timelineReport analyzes the trace at path and writes its report; it
// returns the report's path and the analysis.
func timelineReport(t *testing.T, path string, o analyze.TimelineOptions) (string, *analyze.TraceAnalysis) {
	t.Helper()
	r, err := replay.Open(path, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ta, err := analyze.AnalyzeTimeline(r, analyze.SummaryOptions{}, analyze.LatencyOptions{}, o)
	if err != nil {
		t.Fatal(err)
	}
	ta.Summary.File = filepath.Base(path)
	html := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(html)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := Write(w, &Data{Title: "timeline test", Generated: time.Unix(0, 0), Summary: ta.Summary, Latency: ta.Latency, Flame: ta.Flame, Timeline: ta.Timeline}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return html, ta
}

func pairCount(l *analyze.Latency) int {
	n := 0
	for _, f := range l.Functions {
		n += int(f.Count)
	}
	return n
}

// inView counts the slices and instants of tl overlapping [v0, v1].
func inView(tl *analyze.EventTimeline, v0, v1 uint64) (slices, ticks int) {
	for i, s := range tl.Slices.Start {
		if s <= v1 && s+tl.Slices.Dur[i] >= v0 {
			slices++
		}
	}
	for _, x := range tl.Instants.T {
		if x >= v0 && x <= v1 {
			ticks++
		}
	}
	return
}

// colored counts pixels of img within rect that are one of the slice colors.
func colored(img image.Image, rect image.Rectangle) int {
	want := []color.RGBA{{0x3b, 0x7d, 0xd8, 0xff}, {0xe8, 0x85, 0x3d, 0xff}}
	n := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			for _, c := range want {
				if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(b>>8) == c.B {
					n++
				}
			}
		}
	}
	return n
}

// shotW x shotH is the window of the timeline screenshots: tall enough for
// the timeline below the summary of the test reports.
const shotW, shotH = 1300, 3200

// timelineShot renders url and returns the canvas attributes and the
// screenshot cropped to the timeline (toolbar and canvas).
func timelineShot(t *testing.T, url string) (map[string]string, image.Image) {
	t.Helper()
	dom, img := render(t, url, shotW, shotH)
	a := canvasAttrs(t, dom)
	top, h := atoi(t, a["top"]), atoi(t, a["height"])
	return a, crop(t, img, image.Rect(0, top-34, shotW, top+h))
}

// checkTimeline renders html fully zoomed out and at [v0, v1]: the drawn
// slices and ticks are the pairs and instants in view, and both
// screenshots show slices. It returns the two cropped screenshots.
func checkTimeline(t *testing.T, html string, ta *analyze.TraceAnalysis, v0, v1 uint64) (full, zoomed image.Image) {
	t.Helper()
	tl := ta.Timeline
	url := "file://" + html
	a, full := timelineShot(t, url)
	if a["mode"] != "items" {
		t.Fatalf("small trace drawn as %q, want individual items", a["mode"])
	}
	if got, want := atoi(t, a["drawn-slices"]), pairCount(ta.Latency); got != want || want == 0 {
		t.Errorf("drawn %d slices, the trace has %d pairs", got, want)
	}
	if got, want := atoi(t, a["drawn-ticks"]), int(tl.InstantsTotal); got != want {
		t.Errorf("drawn %d ticks, the trace has %d unpaired events", got, want)
	}
	zurl := fmt.Sprintf("%s#tl=%d,%d", url, v0, v1)
	z, zoomed := timelineShot(t, zurl)
	if z["view"] != fmt.Sprintf("%d,%d", v0, v1) {
		t.Fatalf("zoomed view %q, want %d,%d", z["view"], v0, v1)
	}
	ws, wt := inView(tl, v0, v1)
	if got := atoi(t, z["drawn-slices"]); got != ws || ws == 0 || ws == len(tl.Slices.Start) {
		t.Errorf("zoomed: drawn %d slices, %d of %d in view", got, ws, len(tl.Slices.Start))
	}
	if got := atoi(t, z["drawn-ticks"]); got != wt {
		t.Errorf("zoomed: drawn %d ticks, %d in view", got, wt)
	}
	for i, img := range []image.Image{full, zoomed} {
		if n := colored(img, img.Bounds()); n < 20 {
			t.Errorf("screenshot %d: only %d pixels of slice colors", i, n)
		}
	}
	return full, zoomed
}

// keepPNG saves a screenshot under KPCAP_TIMELINE_PNG (a directory), so
// they can be looked at; with KPCAP_UPDATE_README_PNG=1 the README's
// picture testdata/timeline.png is rewritten from the committed 6.1 trace.
func keepPNG(t *testing.T, name string, img image.Image) {
	if dir := os.Getenv("KPCAP_TIMELINE_PNG"); dir != "" {
		savePNG(t, filepath.Join(dir, name), img)
	}
}

func TestTimelineChromiumSynthetic(t *testing.T) {
	requireTool(t, chromiumPath)
	path := testtrace.Openat(t, filepath.Join(t.TempDir(), "a.pcapng.zst"), "6.1.0-test", "", 300, 1, 5)
	html, ta := timelineReport(t, path, analyze.TimelineOptions{})
	if pairCount(ta.Latency) != 660 { // 300 openat, 360 uprobe pairs
		t.Fatalf("pairs %d", pairCount(ta.Latency))
	}
	// 40 µs in the middle: a few calls of both threads.
	v0 := uint64(150 * 10_000)
	full, zoomed := checkTimeline(t, html, ta, v0, v0+40_000)
	keepPNG(t, "synthetic-full.png", full)
	keepPNG(t, "synthetic-zoomed.png", zoomed)
	// An outlier link selects its slice and shows its fields.
	b, _ := os.ReadFile(html)
	if !strings.Contains(string(b), `class="tl-outlier" href="#tl-slice=`) {
		t.Fatal("no outlier links under the histograms")
	}
	fn := -1
	for i, f := range ta.Timeline.Funcs {
		if f == "syscall:openat" {
			fn = i
		}
	}
	s := ta.Timeline.Outliers[fn][0]
	dom := chromium(t, fmt.Sprintf("file://%s#tl-slice=%d", html, s), "--window-size=1300,900", "--dump-dom")
	detail := regexp1(`<div id="tl-detail"[^>]*>(.*?)</div>`, dom)
	want := fmt.Sprintf("<td>Duration</td><td>%s</td>", jsNS(ta.Timeline.Slices.Dur[s]))
	if !strings.Contains(detail, "syscall:openat") || !strings.Contains(detail, want) || !strings.Contains(detail, "<td>Return fields</td><td>__syscall_nr=257 ret=3</td>") {
		t.Errorf("slice details %q lack the function or %q", detail, want)
	}
}

// TestTimelineChromiumKernels draws the committed traces of real kernels.
func TestTimelineChromiumKernels(t *testing.T) {
	requireTool(t, chromiumPath)
	for _, k := range []string{"6.1", "6.12"} {
		t.Run(k, func(t *testing.T) {
			html, ta := timelineReport(t, "../../testdata/kernels/openat-"+k+".pcapng.zst", analyze.TimelineOptions{})
			v0, v1 := busiest(ta.Timeline.Slices.Start, 40_000_000)
			full, zoomed := checkTimeline(t, html, ta, v0, v1)
			keepPNG(t, "kernel-"+k+"-full.png", full)
			keepPNG(t, "kernel-"+k+"-zoomed.png", zoomed)
			if k == "6.1" && os.Getenv("KPCAP_UPDATE_README_PNG") == "1" {
				savePNG(t, "testdata/timeline.png", zoomed)
			}
		})
	}
}

func regexp1(expr, s string) string {
	m := regexp.MustCompile("(?s)" + expr).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// jsNS formats ns as the timeline script does.
func jsNS(ns uint64) string {
	v, unit := float64(ns), " ns"
	switch {
	case ns >= 1e9:
		v, unit = v/1e9, " s"
	case ns >= 1e6:
		v, unit = v/1e6, " ms"
	case ns >= 1e3:
		v, unit = v/1e3, " µs"
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) + unit
}

// busiest returns a view of width w around the most slice starts.
func busiest(starts []uint64, w uint64) (v0, v1 uint64) {
	best, at := 0, uint64(0)
	for i, s := range starts {
		j := i
		for j < len(starts) && starts[j] <= s+w*8/10 {
			j++
		}
		if j-i > best {
			best, at = j-i, s
		}
	}
	v0 = at - min(at, w/10)
	return v0, v0 + w
}
