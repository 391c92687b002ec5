package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"

	"github.com/kpcap/kpcap/analyze"
)

// timelineJS draws and drives the timeline canvas.
//
//go:embed timeline.js
var timelineJS string

// timelineView is what the template needs of the timeline.
type timelineView struct {
	T    *analyze.EventTimeline
	JSON template.JS // the timeline data, for a <script type="application/json">
	JS   template.JS
	// Omitted says in words what the embedded items leave out ("" = nothing).
	Omitted string
	// Outliers maps a function name to links to its longest pairs.
	Outliers map[string][]outlierLink
}

// outlierLink points at one slice of the timeline.
type outlierLink struct {
	Slice int
	Dur   uint64
	Start uint64
	Lane  string
}

func newTimelineView(tl *analyze.EventTimeline) (*timelineView, error) {
	if tl == nil {
		return nil, nil
	}
	// HTML escaping keeps "</script>" in a field text from ending the
	// data block early.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(tl); err != nil {
		return nil, fmt.Errorf("encode timeline data: %w", err)
	}
	v := &timelineView{T: tl, JSON: template.JS(bytes.TrimSpace(b.Bytes())), JS: template.JS(timelineJS), Outliers: map[string][]outlierLink{}}
	v.Omitted = omittedText(tl)
	for fn, idx := range tl.Outliers {
		if fn >= len(tl.Funcs) {
			continue
		}
		for _, s := range idx {
			if s < 0 || s >= len(tl.Slices.Start) {
				continue
			}
			lane := ""
			if l := tl.Slices.Lane[s]; l >= 0 && l < len(tl.Lanes) {
				lane = tl.Lanes[l].Name
			}
			v.Outliers[tl.Funcs[fn]] = append(v.Outliers[tl.Funcs[fn]], outlierLink{Slice: s, Dur: tl.Slices.Dur[s], Start: tl.Slices.Start[s], Lane: lane})
		}
	}
	return v, nil
}

// omittedText says which individual items the report leaves out, so a
// reader knows an empty stretch of a lane is not an idle one.
func omittedText(tl *analyze.EventTimeline) string {
	if tl.OmittedSlices == 0 && tl.OmittedInstants == 0 && tl.OmittedLosses == 0 {
		return ""
	}
	s := fmt.Sprintf("To keep this file small, individual events are kept for at most %d items: %d of %d pairs and %d of %d other events are drawn one by one; ",
		tl.MaxItems, uint64(len(tl.Slices.Start)), tl.Pairs, uint64(len(tl.Instants.T)), tl.InstantsTotal)
	if tl.Stride > 1 {
		s += fmt.Sprintf("they come from every %d%s window of %s (shaded gaps are the others)", tl.Stride, ordinalSuffix(tl.Stride), analyze.FormatNS(tl.WindowNS))
	} else {
		s += "they come from the start of the trace"
	}
	if tl.TruncatedNS != 0 {
		s += fmt.Sprintf(", none after +%s", analyze.FormatNS(tl.TruncatedNS))
	}
	s += ", plus each function's longest pairs. Elsewhere the lanes show event density only."
	if tl.OmittedLosses > 0 {
		s += fmt.Sprintf(" %d loss records are not drawn one by one (their counts are in the loss lane's density).", tl.OmittedLosses)
	}
	return s
}

func ordinalSuffix(n uint64) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

// sliceHash is the page anchor that shows slice i on the timeline.
func sliceHash(i int) string { return "#tl-slice=" + strconv.Itoa(i) }
