package analyze

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kpcap/kpcap/replay"
)

// WriteGroupDiffText prints a group comparison for people.
func WriteGroupDiffText(w io.Writer, d *GroupDiff) error {
	ew := &errWriter{w: w}
	p := ew.printf
	for _, t := range []struct {
		n string
		i GroupInfo
	}{{"A", d.A}, {"B", d.B}} {
		p("%s: %d traces, %d hosts, kernels %s, %d samples lost\n", t.n, t.i.Traces, t.i.Hosts, strings.Join(t.i.Kernels, ", "), t.i.Lost)
	}
	if d.A.Lost != d.B.Lost {
		p("warning: the groups lost different numbers of samples (A %d, B %d): a change may be partly the loss\n", d.A.Lost, d.B.Lost)
	}
	p("\nLatency per function: %s; * = p <= %g\n", d.Test, d.Alpha)
	tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  FUNCTION\tHOSTS A/B\tMEDIAN A\tMEDIAN B\tCHANGE\tp\t\tHOST SPREAD A (p25-p75)\tHOST SPREAD B\tP99 A\tP99 B\tCALLS/s CHANGE\tp\t\tB HOSTS OUTSIDE A\t\n")
	for _, f := range d.Functions {
		if f.OnlyIn != "" {
			fmt.Fprintf(tw, "  %s\t%d/%d\tonly in %s\t\t\t\t\t\t\t\t\t\t\t\t\t\n", f.Name, f.A.Hosts, f.B.Hosts, strings.ToUpper(f.OnlyIn))
			continue
		}
		star := map[bool]string{true: "*"}
		fmt.Fprintf(tw, "  %s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s-%s\t%s-%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t\n",
			f.Name, f.A.Hosts, f.B.Hosts, FormatNS(f.A.HostMedian), FormatNS(f.B.HostMedian), fmtPct(f.MedianChangePct),
			fmtP(&f.PValue), star[f.Significant],
			FormatNS(f.A.HostP25), FormatNS(f.A.HostP75), FormatNS(f.B.HostP25), FormatNS(f.B.HostP75),
			FormatNS(f.A.P99), FormatNS(f.B.P99), fmtPct(f.RateChangePct), fmtP(&f.RatePValue), star[f.RateSignificant],
			f.OutsideA, f.B.Hosts)
	}
	tw.Flush()
	for _, f := range d.Functions {
		if !f.Significant || len(f.Drivers) == 0 {
			continue
		}
		p("\n%s: B hosts furthest from A's median (%s):", f.Name, FormatNS(f.A.HostMedian))
		for _, h := range f.Drivers {
			p(" %s %s (%+.1f%%)", replay.EscapeControl(h.Host), FormatNS(h.Median), h.ChangePct)
		}
		p("\n")
	}
	writeGroupSources(ew, d)
	writeGroupStacks(ew, d)
	if len(d.Warnings) > 0 {
		p("\nWarnings:\n")
		for _, wn := range d.Warnings {
			p("  %s\n", wn)
		}
	}
	return ew.err
}

// writeGroupSources prints the per-source event rate comparison.
func writeGroupSources(ew *errWriter, d *GroupDiff) {
	if len(d.Sources) == 0 {
		return
	}
	p := ew.printf
	p("\nEvents per source (per-host events/s of trace, Mann-Whitney U across hosts; * = p <= %g):\n", d.Alpha)
	tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  SOURCE\tHOSTS A/B\tEVENTS A\tEVENTS B\tRATE A\tRATE B\tCHANGE\tp\t\tHOST SPREAD A (p25-p75)\tHOST SPREAD B\tB HOSTS OUTSIDE A\t\n")
	star := map[bool]string{true: "*"}
	for _, s := range d.Sources {
		if s.OnlyIn != "" {
			fmt.Fprintf(tw, "  %s\t%d/%d\t%d\t%d\tonly in %s\t\t\t\t\t\t\t\t\n", replay.EscapeControl(s.Name), s.A.Hosts, s.B.Hosts, s.A.Events, s.B.Events, strings.ToUpper(s.OnlyIn))
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d/%d\t%d\t%d\t%.1f/s\t%.1f/s\t%s\t%s\t%s\t%.1f-%.1f\t%.1f-%.1f\t%d/%d\t\n",
			replay.EscapeControl(s.Name), s.A.Hosts, s.B.Hosts, s.A.Events, s.B.Events, s.A.HostMedian, s.B.HostMedian,
			fmtPct(s.RateChangePct), fmtP(&s.PValue), star[s.Significant], s.A.HostP25, s.A.HostP75, s.B.HostP25, s.B.HostP75, s.OutsideA, s.B.Hosts)
	}
	tw.Flush()
	for _, s := range d.Sources {
		if !s.Significant || len(s.Drivers) == 0 {
			continue
		}
		p("\n%s: B hosts furthest from A's median rate (%.1f/s):", replay.EscapeControl(s.Name), s.A.HostMedian)
		for _, h := range s.Drivers {
			p(" %s %d/s (%+.1f%%)", replay.EscapeControl(h.Host), h.Median, h.ChangePct)
		}
		p("\n")
	}
}

// writeGroupStacks prints the stacks whose share changed most.
func writeGroupStacks(ew *errWriter, d *GroupDiff) {
	if len(d.Stacks) == 0 {
		return
	}
	p := ew.printf
	p("\nStacks whose share changed most (per-host share of the host's stacks, Mann-Whitney U across hosts; * = p <= %g):\n", d.Alpha)
	if d.A.StacksFolded+d.B.StacksFolded > 0 {
		p("  (each trace's %d heaviest stacks compared; the lighter ones, %.2f%% of A's stack weight and %.2f%% of B's, count in their hosts' totals only)\n",
			max(d.A.StacksPerTrace, d.B.StacksPerTrace), d.A.StackWeightFoldedPct, d.B.StackWeightFoldedPct)
	}
	star := map[bool]string{true: "*"}
	for _, s := range d.Stacks {
		p("  %+.2f points (host median %.2f%% -> %.2f%%; pooled %.2f%% -> %.2f%%; host spread A %.2f-%.2f%%, B %.2f-%.2f%%) p %s%s\n    %s\n",
			s.DeltaPoints, s.HostMedianA, s.HostMedianB, s.ShareA, s.ShareB, s.HostP25A, s.HostP75A, s.HostP25B, s.HostP75B,
			fmtP(&s.PValue), star[s.Significant], s.Stack)
		if s.Significant && len(s.Drivers) > 0 {
			p("    B hosts furthest from A's median share:")
			for _, h := range s.Drivers {
				p(" %s %+.2f points", replay.EscapeControl(h.Host), h.ChangePct)
			}
			p("\n")
		}
	}
}
