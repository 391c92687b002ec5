// Package report renders a trace's analysis as one self-contained HTML file
// (inline CSS, JavaScript and SVG; nothing fetched from the network) to
// attach to a bug report.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/kpcap/kpcap/analyze"
	"github.com/kpcap/kpcap/analyze/flame"
	"github.com/kpcap/kpcap/replay"
)

// Data is what a report shows.
type Data struct {
	Title     string
	Generated time.Time
	Summary   *analyze.Summary
	Latency   *analyze.Latency
	Flame     *analyze.Flame
	// Timeline, when set, adds the zoomable timeline of lanes per CPU and
	// thread; its strings are escaped already (analyze.EventTimeline).
	Timeline *analyze.EventTimeline
	// Fleet, when set, makes a report of many traces: a table of the
	// groups and traces replaces the one trace's description, and Summary
	// is Fleet.Total.
	Fleet *analyze.FleetSummary
}

// Write renders d as HTML to w. Strings from the trace have their control
// bytes escaped as kpcap's text outputs print them; d is not modified.
func Write(w io.Writer, d *Data) error {
	d = &Data{Title: replay.EscapeControl(d.Title), Generated: d.Generated,
		Summary: escapedCopy(d.Summary), Latency: escapedCopy(d.Latency),
		// Flame frames are escaped as the profile is built (flame.CleanFrame).
		Flame: d.Flame, Timeline: d.Timeline, Fleet: escapedCopy(d.Fleet)}
	tl, err := newTimelineView(d.Timeline)
	if err != nil {
		return err
	}
	type histView struct {
		F   *analyze.FuncLatency
		SVG template.HTML
		// Outliers link the function's longest pairs to the timeline.
		Outliers []outlierLink
	}
	var hists []histView
	if d.Latency != nil {
		for _, f := range d.Latency.Functions {
			h := histView{F: f, SVG: template.HTML(histSVG(f))}
			if tl != nil && f.Group == "" {
				h.Outliers = tl.Outliers[f.Name]
			}
			hists = append(hists, h)
		}
	}
	// The data sits in an inline <script>: HTML escaping (\u003c for '<',
	// also '>', '&', U+2028/9) keeps a "</script>" or "<!--" in a string
	// from ending the script early.
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(struct {
		Summary *analyze.Summary      `json:"summary"`
		Latency *analyze.Latency      `json:"latency"`
		Fleet   *analyze.FleetSummary `json:"fleet,omitempty"`
	}{d.Summary, d.Latency, d.Fleet}); err != nil {
		return fmt.Errorf("encode report data: %w", err)
	}
	raw := bytes.TrimSpace(js.Bytes())
	view := map[string]any{
		"D":     d,
		"S":     d.Summary,
		"L":     d.Latency,
		"Hists": hists,
		"Flame": template.HTML(flameMark),
		"Rate":  template.HTML(rateSVG(d.Summary)),
		"JSON":  template.JS(raw),
		"TL":    tl,
	}
	var html bytes.Buffer
	if err := page().Execute(&html, view); err != nil {
		return err
	}
	return writeWithFlame(w, html.Bytes(), d.Flame)
}

// flameMark stands in the page for the flame graph, which is written
// straight to the output: it may be the bulk of the report (a node per
// frame of every distinct stack), and the page around it is small. No
// string from a trace reaches the page unescaped, so none can forge it.
const flameMark = "<kpcap-flame-graph-here/>"

// writeWithFlame writes the page html to w with f's flame graph in place of its
// flameMark.
func writeWithFlame(w io.Writer, html []byte, f *analyze.Flame) error {
	before, after, ok := bytes.Cut(html, []byte(flameMark))
	if _, err := w.Write(before); err != nil || !ok {
		return err
	}
	if f != nil {
		sub := fmt.Sprintf("%d events, %d without a stack; lost %d samples", f.Events, f.NoStack, f.Lost.Total)
		if err := flame.WriteSVG(w, f.Profile, flame.SVGOptions{Title: "Flame graph", Subtitle: sub}); err != nil {
			return err
		}
	}
	_, err := w.Write(after)
	return err
}

var funcs = template.FuncMap{
	"ns": analyze.FormatNS,
	"pct": func(a, b uint64) string {
		if b == 0 {
			return "0%"
		}
		return fmt.Sprintf("%.2f%%", 100*float64(a)/float64(b))
	},
	"join":      strings.Join,
	"sliceHash": sliceHash,
	"wall": func(s *analyze.Summary) string {
		if s == nil || s.Host.WallOffsetNS == 0 || s.Events == 0 {
			return "unknown"
		}
		return time.Unix(0, int64(s.FirstNS)+s.Host.WallOffsetNS).UTC().Format(time.RFC3339)
	},
	"threadLanes": func(ls []analyze.TimelineLane) int {
		n := 0
		for _, l := range ls {
			if l.Kind == "thread" {
				n++
			}
		}
		return n
	},
	"rate": func(n, dur uint64) string {
		if dur == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(n)/(float64(dur)/1e9))
	},
}

// histSVG draws a log2 histogram as horizontal bars, one row per bucket.
func histSVG(f *analyze.FuncLatency) string {
	if len(f.Histogram) == 0 {
		return `<p class="muted">no completed pairs</p>`
	}
	const rowH, labelW, barW, countW = 16, 190, 420, 80
	var maxC uint64
	for _, b := range f.Histogram {
		maxC = max(maxC, b.Count)
	}
	h := rowH*len(f.Histogram) + 4
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="hist" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">`, labelW+barW+countW, h, labelW+barW+countW, h)
	for i, b := range f.Histogram {
		y := i*rowH + 2
		w := 0.0
		if maxC > 0 {
			w = float64(barW) * float64(b.Count) / float64(maxC)
		}
		if b.Count > 0 {
			w = math.Max(w, 1)
		}
		label := analyze.FormatNS(b.Low) + " – " + analyze.FormatNS(b.High)
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-6, y+12, template.HTMLEscapeString(label))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#3b7dd8"><title>%s: %d</title></rect>`, labelW, y+1, w, rowH-3, template.HTMLEscapeString(label), b.Count)
		fmt.Fprintf(&s, `<text x="%d" y="%d">%d</text>`, labelW+barW+6, y+12, b.Count)
	}
	s.WriteString(`</svg>`)
	return s.String()
}

// rateSVG draws events (and loss, in red) per time bucket as columns.
func rateSVG(s *analyze.Summary) string {
	if s == nil || len(s.Rate.Events) == 0 {
		return ""
	}
	const W, H = 900, 120
	n := len(s.Rate.Events)
	var maxC uint64
	for i, c := range s.Rate.Events {
		maxC = max(maxC, c, s.Rate.Lost[i])
	}
	if maxC == 0 {
		maxC = 1
	}
	bw := float64(W) / float64(n)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="rate" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg"><rect width="%d" height="%d" fill="#fafafa"/>`, W, H+16, W, H+16, W, H)
	for i, c := range s.Rate.Events {
		x := float64(i) * bw
		h := float64(H) * float64(c) / float64(maxC)
		off := analyze.FormatNS(uint64(i) * s.Rate.BucketNS)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#5a9"><title>+%s: %d events, %d lost</title></rect>`,
			x, float64(H)-h, math.Max(bw-1, 0.5), h, off, c, s.Rate.Lost[i])
		if l := s.Rate.Lost[i]; l > 0 {
			lh := math.Max(2, float64(H)*float64(l)/float64(maxC))
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#d33"><title>+%s: %d lost</title></rect>`,
				x, float64(H)-lh, math.Max(bw-1, 0.5), lh, off, l)
		}
	}
	fmt.Fprintf(&b, `<text x="0" y="%d">+0</text><text x="%d" y="%d" text-anchor="end">+%s</text></svg>`,
		H+13, W, H+13, template.HTMLEscapeString(analyze.FormatNS(uint64(n)*s.Rate.BucketNS)))
	return b.String()
}

// page is the report template, parsed on first use rather than at init:
// every kpcap command would pay for it at start-up.
var page = sync.OnceValue(func() *template.Template { return template.Must(template.New("report").Funcs(funcs).Parse(pageText)) })

const pageText = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.D.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1240px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 4px;font-family:ui-monospace,monospace}
table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}
.kv td{text-align:left}.muted{color:#777}.lost{color:#b00;font-weight:bold}.ok{color:#070}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px;margin:8px 0}
svg.hist text{font-size:11px;font-family:ui-monospace,monospace}svg.rate text{font-size:11px}
.grid{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
details{margin:8px 0}#tl-wrap{width:100%;overflow:hidden}#tl-canvas{display:block;cursor:crosshair;outline:none}
#tl-canvas:focus{box-shadow:0 0 0 2px #9bc}.tl-bar{margin:6px 0;font-size:13px}.tl-bar button{min-width:28px;margin-right:4px}
#tl-detail{font-size:13px;min-height:3em}.outl{font-size:12px;margin:2px 0 8px}.outl a{margin-right:10px}#flame svg{width:100%;height:auto}code,pre{font-family:ui-monospace,monospace;font-size:12px}
</style></head>
<body>
<h1>{{.D.Title}}</h1>
<div class="muted">generated {{.D.Generated.UTC.Format "2006-01-02 15:04:05 MST"}} by kpcap analyze report</div>
{{with .D.Fleet}}
{{range .Warnings}}<div class="warn">{{.}}</div>{{end}}
<h2>Traces</h2>
<p>{{.Total.File}} on {{.Total.Host.Hostname}}; kernels {{.Total.Host.Kernel}}; {{.Total.Events}} events in {{ns .Total.DurationNS}} of trace;
{{if .Total.Lost.Total}}<span class="lost">{{.Total.Lost.Total}} samples lost</span>{{else}}<span class="ok">0 samples lost</span>{{end}}.
Rates below are per trace-second (durations add up over traces).</p>
<table><tr><th>{{if .By}}{{.By}}{{else}}group{{end}}</th><th>Traces</th><th>Hosts</th><th>Kernels</th><th>Trace time</th><th>Events</th><th>Lost</th></tr>
{{range .Groups}}<tr><td>{{.Key}}</td><td>{{.Traces}}</td><td>{{.Hosts}}</td><td>{{join .Kernels ", "}}</td><td>{{ns .DurationNS}}</td><td>{{.Events}}</td><td{{if .Lost}} class="lost"{{end}}>{{.Lost}}</td></tr>{{end}}
</table>
<details><summary>Every trace ({{len .Traces}})</summary>
<table><tr><th>File</th><th>Host</th><th>Kernel</th><th>Arch</th><th>Span</th><th>Events</th><th>Lost</th></tr>
{{range .Traces}}<tr><td>{{.File}}</td><td>{{.Host}}</td><td>{{.Kernel}}</td><td>{{.Arch}}</td><td>{{ns .DurationNS}}</td><td>{{.Events}}</td><td{{if .Lost}} class="lost"{{end}}>{{.Lost}}</td></tr>{{end}}
</table></details>
{{end}}
{{with .S}}
{{if not $.D.Fleet}}
{{range .Warnings}}<div class="warn">{{.}}</div>{{end}}
<h2>Trace</h2>
<table class="kv">
<tr><td>File</td><td>{{.File}}</td></tr>
<tr><td>Recorder</td><td>{{.Application}}</td></tr>
<tr><td>Host</td><td>{{.Host.Hostname}} — {{.Host.OS}} {{.Host.Machine}}, {{.Host.CPUs}} CPUs, page size {{.Host.PageSize}}</td></tr>
<tr><td>Kernel</td><td>{{.Host.Kernel}} <span class="muted">{{.Host.Version}}</span></td></tr>
<tr><td>Command</td><td><code>{{join .Capture.Args " "}}</code></td></tr>
<tr><td>Targets</td><td>{{.Capture.Targets}}</td></tr>
<tr><td>Start (UTC)</td><td>{{wall .}}</td></tr>
<tr><td>Span</td><td>{{ns .DurationNS}}</td></tr>
<tr><td>Events</td><td>{{.Events}} ({{rate .Events .DurationNS}}/s), {{.StacksWith}} with a stack</td></tr>
<tr><td>Lost</td><td>{{if .Lost.Total}}<span class="lost">{{.Lost.Total}} samples lost</span> (ring loss records {{.Lost.RingLost}}, dropped per source {{.Lost.SourceDropped}}){{range .Lost.ByCPU}} cpu{{.CPU}}={{.Count}}{{end}}{{if .Lost.NoCPU}}, not tied to a CPU: {{.Lost.NoCPU}}{{end}}{{else}}<span class="ok">0 samples lost</span>{{end}}{{if .Lost.Window}} in the analyzed window ({{.Lost.CaptureTotal}} in the whole capture){{end}}</td></tr>
{{range .Notes}}<tr><td>Note</td><td>{{.}}</td></tr>{{end}}
</table>
{{end}}

<h2>Summary</h2>
<div class="grid"><div>
<table><tr><th>Source</th><th>Kind</th><th>Events</th><th>Rate/s</th><th>Lost</th></tr>
{{range .Sources}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Events}}</td><td>{{printf "%.1f" .RatePerSec}}</td><td{{if .Lost}} class="lost"{{end}}>{{.Lost}}</td></tr>{{end}}
</table>
<table><tr><th>CPU</th><th>Events</th><th>Lost</th></tr>
{{range .CPUs}}<tr><td>{{.CPU}}</td><td>{{.Events}}</td><td{{if .Lost}} class="lost"{{end}}>{{.Lost}}</td></tr>{{end}}
</table></div><div>
<table><tr><th>Command</th><th>Events</th></tr>{{range .Comms}}<tr><td>{{.Name}}</td><td>{{.Count}}</td></tr>{{end}}</table>
<table><tr><th>PID</th><th>Command</th><th>Events</th></tr>{{range .PIDs}}<tr><td>{{.PID}}</td><td>{{.Comm}}</td><td>{{.Events}}</td></tr>{{end}}</table>
</div></div>
<h3>Events over time ({{ns .Rate.BucketNS}} per column; red = lost)</h3>
{{$.Rate}}
{{if .Fields}}<h3>Top values of string fields</h3><div class="grid">
{{range .Fields}}<table><tr><th>{{.Field}}{{if .Approximate}} (approx.){{end}}</th><th>Count</th></tr>{{range .Values}}<tr><td><code>{{.Name}}</code></td><td>{{.Count}}</td></tr>{{end}}</table>{{end}}
</div>{{end}}
{{end}}

{{with .TL}}
<h2 id="timeline">Timeline</h2>
<p class="muted">Lanes per CPU, the {{.T.Lanes | threadLanes}} busiest threads{{if .T.FoldedThreads}} ({{.T.FoldedThreads}} more folded into one lane){{end}} and lost samples.
Slices are entry/return pairs ({{.T.Pairs}}), black ticks other events ({{.T.InstantsTotal}}), red ticks loss records ({{.T.LossRecords}}); zoomed out, bars show event density.
Mouse wheel or <kbd>+</kbd>/<kbd>-</kbd> (<kbd>W</kbd>/<kbd>S</kbd>) zoom, drag or <kbd>←</kbd>/<kbd>→</kbd> (<kbd>A</kbd>/<kbd>D</kbd>) pan, <kbd>0</kbd> resets; click an item for its fields.</p>
{{if .Omitted}}<div class="warn">{{.Omitted}}</div>{{end}}
<div class="tl-bar"><button data-tl="out" title="zoom out">−</button><button data-tl="in" title="zoom in">+</button><button data-tl="left" title="pan left">←</button><button data-tl="right" title="pan right">→</button><button data-tl="reset">reset</button> <span id="tl-range"></span></div>
<div id="tl-wrap"><canvas id="tl-canvas" tabindex="0"></canvas></div>
<div id="tl-detail" class="muted">Click a slice, a tick or a lane for details.</div>
<script type="application/json" id="tl-data">{{.JSON}}</script>
{{end}}

{{with .L}}
<h2>Latency</h2>
<p>Lost in the trace: {{if .Lost}}<span class="lost">{{.Lost}} samples</span>{{else}}0 samples{{end}};
unmatched: {{.UnmatchedEntries}} entries ({{.OpenAtEnd}} still open at the end), {{.UnmatchedReturns}} returns.</p>
{{range .Warnings}}<div class="warn">{{.}}</div>{{end}}
{{if .Functions}}<table><tr><th>Function</th><th>Count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>Unmatched entries</th><th>Unmatched returns</th></tr>
{{range .Functions}}<tr><td>{{.Name}}{{if .Group}} [{{.Group}}]{{end}}</td><td>{{.Count}}</td><td>{{ns .P50}}</td><td>{{ns .P90}}</td><td>{{ns .P99}}</td><td>{{ns .P999}}</td><td>{{ns .Max}}</td>
<td>{{with .Unmatched}}{{.Entries}}{{end}}</td><td>{{with .Unmatched}}{{.Returns}}{{end}}</td></tr>{{end}}
</table>{{end}}
{{end}}
{{range .Hists}}<h3>{{.F.Name}}{{if .F.Group}} [{{.F.Group}}]{{end}} — {{.F.Count}} calls, p50 {{ns .F.P50}}, p99 {{ns .F.P99}}</h3>{{.SVG}}
{{with .Outliers}}<div class="outl">Longest, on the timeline: {{range .}}<a class="tl-outlier" href="{{sliceHash .Slice}}">{{ns .Dur}} at +{{ns .Start}} ({{.Lane}})</a>{{end}}</div>{{end}}{{end}}

{{if .D.Flame}}<h2>Flame graph</h2>
<p class="muted">Click a frame to zoom, "Search" to highlight by regular expression; hover for counts.</p>
<div id="flame">{{.Flame}}</div>{{end}}

<details><summary>Raw analysis (JSON)</summary><pre id="raw"></pre></details>
<script>
(function(){
  var data = {{.JSON}};
  document.getElementById('raw').textContent = JSON.stringify(data, null, 1);
  document.body.setAttribute('data-report-ready', '1');
})();
</script>
{{with .TL}}<script>{{.JS}}</script>{{end}}
</body></html>
`
