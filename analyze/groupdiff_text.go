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
	if len(d.Warnings) > 0 {
		p("\nWarnings:\n")
		for _, wn := range d.Warnings {
			p("  %s\n", wn)
		}
	}
	return ew.err
}
