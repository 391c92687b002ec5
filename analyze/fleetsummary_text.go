package analyze

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kpcap/kpcap/replay"
)

// WriteFleetSummaryText prints a summary of many traces for people: the
// totals, each group's sources and commands, and one line per trace.
func WriteFleetSummaryText(w io.Writer, fs *FleetSummary) error {
	ew := &errWriter{w: w}
	p := ew.printf
	t := fs.Total
	rate := 0.0
	if t.DurationNS > 0 {
		rate = float64(t.Events) / (float64(t.DurationNS) / 1e9)
	}
	p("Traces:   %s on %s; kernels %s; %s\n", t.File, t.Host.Hostname, t.Host.Kernel, t.Host.Machine)
	p("Events:   %d in %s of trace (%.0f per trace-second), %d with a stack\n", t.Events, FormatNS(t.DurationNS), rate, t.StacksWith)
	p("%s\n", lossLine(t.Lost, ""))
	for _, n := range t.Notes {
		p("Note:     %s\n", n)
	}
	for _, wn := range fs.Warnings {
		p("WARNING:  %s\n", wn)
	}
	esc := replay.EscapeControl
	by := fs.By
	if by == "" {
		by = "group"
	}
	p("\nPer %s:\n", by)
	tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\tTRACES\tHOSTS\tKERNELS\tSPAN\tEVENTS\tPER TRACE-s\tLOST\t\n", strings.ToUpper(by))
	for _, g := range fs.Groups {
		r := 0.0
		if g.DurationNS > 0 {
			r = float64(g.Events) / (float64(g.DurationNS) / 1e9)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%d\t%.1f\t%d\t\n", esc(g.Key), g.Traces, g.Hosts, esc(strings.Join(g.Kernels, ", ")), FormatNS(g.DurationNS), g.Events, r, g.Lost)
	}
	tw.Flush()
	for _, g := range fs.Groups {
		p("\nEvents per source [%s]:\n", esc(g.Key))
		tw = tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  SOURCE\tKIND\tEVENTS\tPER TRACE-s\tLOST\t\n")
		for _, sc := range g.Sources {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%.1f\t%d\t\n", esc(sc.Name), sc.Kind, sc.Events, sc.RatePerSec, sc.Lost)
		}
		tw.Flush()
		if len(g.Comms) > 0 {
			p("Top commands [%s]:", esc(g.Key))
			for _, c := range g.Comms {
				p(" %s %d,", orUnknown(c.Name), c.Count)
			}
			p("\n")
		}
	}
	if len(t.Fields) > 0 {
		p("\nTop values of string fields (all traces):\n")
		for _, f := range t.Fields {
			p("  %s:", esc(f.Field))
			for _, v := range f.Values {
				p(" %q %d,", v.Name, v.Count)
			}
			if f.Approximate {
				p(" (approximate)")
			}
			p("\n")
		}
	}
	p("\nTraces:\n")
	tw = tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  FILE\tHOST\tKERNEL\tARCH\tSPAN\tEVENTS\tLOST\t\n")
	for _, r := range fs.Traces {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", esc(r.File), esc(r.Host), esc(r.Kernel), esc(r.Arch), FormatNS(r.DurationNS), r.Events, r.Lost)
	}
	tw.Flush()
	return ew.err
}
