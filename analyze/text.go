package analyze

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kpcap/kpcap/replay"
)

// FormatNS prints a duration in ns with three significant digits.
func FormatNS(ns uint64) string {
	f := float64(ns)
	switch {
	case ns < 1000:
		return fmt.Sprintf("%dns", ns)
	case f < 1e6:
		return trim3(f/1e3) + "µs"
	case f < 1e9:
		return trim3(f/1e6) + "ms"
	}
	return trim3(f/1e9) + "s"
}

func trim3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func lossLine(l Loss, unmatched string) string {
	win := ""
	if l.Window {
		win = fmt.Sprintf(" in the window (%d in the whole capture)", l.CaptureTotal)
	}
	if l.Total == 0 {
		return "Lost: 0 samples" + win + unmatched
	}
	var b strings.Builder
	fmt.Fprintf(&b, "LOST: %d samples%s (ring loss records %d, dropped per source over the capture %d)", l.Total, win, l.RingLost, l.SourceDropped)
	if len(l.ByCPU) > 0 {
		b.WriteString("; by CPU:")
		for _, c := range l.ByCPU {
			fmt.Fprintf(&b, " cpu%d=%d", c.CPU, c.Count)
		}
	}
	if l.NoCPU > 0 {
		fmt.Fprintf(&b, "; not tied to a CPU (e.g. kretprobe misses): %d", l.NoCPU)
	}
	if len(l.BySource) > 0 {
		b.WriteString("; by source:")
		for _, s := range l.BySource {
			fmt.Fprintf(&b, " %s=%d", s.Source, s.Count)
		}
	}
	return b.String() + unmatched
}

// WriteSummaryText prints s for people; tty selects a sparkline for the rate.
func WriteSummaryText(w io.Writer, s *Summary, tty bool) error {
	ew := &errWriter{w: w}
	writeSummaryHead(ew, s)
	writeSourceTable(ew, s)
	writeTopTables(ew, s)
	writeRate(ew, &s.Rate, tty)
	writeFieldValues(ew, s)
	return ew.err
}

// writeSummaryHead prints the trace, host, capture, span, loss, warnings
// and notes.
func writeSummaryHead(ew *errWriter, s *Summary) {
	p := ew.printf
	p("Trace:    %s (%s)\n", s.File, s.Application)
	p("Host:     %s, kernel %s, %s, %d CPUs\n", s.Host.Hostname, s.Host.Kernel, s.Host.Machine, s.Host.CPUs)
	if len(s.Capture.Args) > 0 {
		p("Command:  %s\n", strings.Join(s.Capture.Args, " "))
	}
	if s.Capture.Targets != "" {
		p("Targets:  %s\n", s.Capture.Targets)
	}
	if s.Host.WallOffsetNS != 0 && s.Events > 0 {
		start := time.Unix(0, int64(s.FirstNS)+s.Host.WallOffsetNS).UTC()
		p("Start:    %s\n", start.Format(time.RFC3339Nano))
	}
	rate := 0.0
	if s.DurationNS > 0 {
		rate = float64(s.Events) / (float64(s.DurationNS) / 1e9)
	}
	p("Span:     %s, %d events (%.0f/s), %d with a stack\n", FormatNS(s.DurationNS), s.Events, rate, s.StacksWith)
	p("%s\n", lossLine(s.Lost, ""))
	for _, wn := range s.Warnings {
		p("WARNING:  %s\n", wn)
	}
	for _, n := range s.Notes {
		p("Note:     %s\n", n)
	}
}

// writeSourceTable prints the events per source, ranked when a pattern
// made many sources.
func writeSourceTable(ew *errWriter, s *Summary) {
	p := ew.printf
	sources, silent := s.Sources, 0
	if len(sources) > familySize { // a pattern's functions: rank them
		sources, silent = rankSources(sources)
		p("\nEvents per source (%d sources, ranked by events; %d without events not listed):\n", len(s.Sources), silent)
	} else {
		p("\nEvents per source:\n")
	}
	tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	periods := false
	for _, sc := range sources {
		periods = periods || sc.Period != 0
	}
	if periods { // counted tracepoints: their counts too
		fmt.Fprintf(tw, "  SOURCE\tKIND\tEVENTS\tRATE/s\tLOST\tPERIOD SUM\t\n")
	} else {
		fmt.Fprintf(tw, "  SOURCE\tKIND\tEVENTS\tRATE/s\tLOST\t\n")
	}
	for _, sc := range sources {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%.1f\t%d\t", sc.Name, sc.Kind, sc.Events, sc.RatePerSec, sc.Lost)
		if periods {
			sum := sc.Period
			if sum == 0 { // every period is 1
				sum = sc.Events
			}
			fmt.Fprintf(tw, "%d\t", sum)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// writeTopTables prints the events per CPU and the top commands,
// processes and cgroups.
func writeTopTables(ew *errWriter, s *Summary) {
	p := ew.printf
	p("\nEvents per CPU:\n")
	tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  CPU\tEVENTS\tLOST\t\n")
	for _, c := range s.CPUs {
		fmt.Fprintf(tw, "  %d\t%d\t%d\t\n", c.CPU, c.Events, c.Lost)
	}
	tw.Flush()

	p("\nTop commands:\n")
	tw = tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  COMM\tEVENTS\t\n")
	for _, c := range s.Comms {
		fmt.Fprintf(tw, "  %s\t%d\t\n", orUnknown(c.Name), c.Count)
	}
	tw.Flush()

	p("\nTop processes:\n")
	tw = tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  PID\tCOMM\tEVENTS\t\n")
	for _, c := range s.PIDs {
		fmt.Fprintf(tw, "  %d\t%s\t%d\t\n", c.PID, orUnknown(c.Comm), c.Events)
	}
	tw.Flush()

	if len(s.Cgroups) > 0 {
		p("\nTop cgroups:\n")
		tw = tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  CGROUP\tEVENTS\t\n")
		for _, c := range s.Cgroups {
			fmt.Fprintf(tw, "  %s\t%d\t\n", c.Name, c.Count)
		}
		tw.Flush()
	}
}

// writeRate prints the rate over time: sparklines on a terminal, a table
// otherwise.
func writeRate(ew *errWriter, r *Timeline, tty bool) {
	p := ew.printf
	p("\nRate over time (%s per bucket, from +0):\n", FormatNS(r.BucketNS))
	if tty {
		p("  events %s\n", sparkline(r.Events))
		var lost uint64
		for _, l := range r.Lost {
			lost += l
		}
		if lost > 0 {
			p("  lost   %s\n", sparkline(r.Lost))
		}
		p("  peak %d events per bucket\n", maxOf(r.Events))
	} else {
		tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  OFFSET\tEVENTS\tLOST\t\n")
		for i, c := range r.Events {
			fmt.Fprintf(tw, "  +%s\t%d\t%d\t\n", FormatNS(uint64(i)*r.BucketNS), c, r.Lost[i])
		}
		tw.Flush()
	}
}

// writeFieldValues prints the top values of string fields.
func writeFieldValues(ew *errWriter, s *Summary) {
	p := ew.printf
	if len(s.Fields) > 0 {
		p("\nTop values of string fields:\n")
		for _, f := range s.Fields {
			approx := ""
			if f.Approximate {
				approx = fmt.Sprintf(" (approximate: counts may be short by up to %d)", f.MaxError)
			}
			p("  %s%s\n", f.Field, approx)
			for _, v := range f.Values {
				p("    %8d  %q\n", v.Count, v.Name)
			}
		}
	}
}

func maxOf(v []uint64) uint64 {
	var m uint64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// sparkline draws counts with block characters, scaled to the maximum; zero
// is a space, any non-zero count at least the lowest block.
func sparkline(v []uint64) string {
	blocks := []rune("▁▂▃▄▅▆▇█")
	m := maxOf(v)
	var b strings.Builder
	for _, x := range v {
		if x == 0 || m == 0 {
			b.WriteRune(' ')
			continue
		}
		i := int(float64(x) / float64(m) * float64(len(blocks)-1))
		b.WriteRune(blocks[i])
	}
	return b.String()
}

var unitNames = map[uint64]string{1: "nsecs", 1000: "usecs", 1_000_000: "msecs", 1_000_000_000: "secs"}

// writeLog2Hist prints buckets like BCC's print_log2_hist: rows from "0 -> 1"
// to the last non-empty bucket with 40-character star bars.
func writeLog2Hist(w io.Writer, unit string, hist []HistBucket) error {
	ew := &errWriter{w: w}
	if len(hist) == 0 {
		return nil
	}
	last := hist[len(hist)-1]
	var valMax uint64
	for _, b := range hist {
		valMax = max(valMax, b.Count)
	}
	wide := last.High > 1<<32
	header, body, stars := "     %-19s : count     distribution\n", "%10d -> %-10d : %-8d |%-40s|\n", 40
	if wide {
		header, body, stars = "               %-29s : count     distribution\n", "%20d -> %-20d : %-8d |%-20s|\n", 20
	}
	ew.printf(header, unit)
	counts := map[uint64]uint64{}
	for _, b := range hist {
		counts[b.Low] = b.Count
	}
	for lo, hi := uint64(0), uint64(1); ; {
		c := counts[lo]
		n := 0
		if valMax > 0 {
			n = int(uint64(stars) * c / valMax)
		}
		ew.printf(body, lo, hi, c, strings.Repeat("*", n))
		if hi >= last.High {
			break
		}
		if lo == 0 {
			lo, hi = 2, 3
		} else {
			lo, hi = lo<<1, hi<<1|1
		}
	}
	return ew.err
}

// acrossGapText notes the pairs of a function not made across a gap.
func acrossGapText(n uint64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d entries across a gap)", n)
}

// WriteLatencyText prints each function's percentiles and histogram.
func WriteLatencyText(w io.Writer, l *Latency) error {
	ew := &errWriter{w: w}
	p := ew.printf
	unm := fmt.Sprintf("; unmatched: %d entries (%d still open at the end), %d returns", l.UnmatchedEntries, l.OpenAtEnd, l.UnmatchedReturns)
	if l.AcrossGap > 0 {
		unm += fmt.Sprintf("; %d entries not paired across a gap (a missing file or lost samples before their return)", l.AcrossGap)
	}
	p("%s\n", lossLine(l.Loss, unm))
	for _, wn := range l.Warnings {
		p("WARNING: %s\n", wn)
	}
	unit := unitNames[l.UnitNS]
	if unit == "" {
		unit = fmt.Sprintf("x%dns", l.UnitNS)
	}
	funcs := l.Functions
	if len(funcs) > familySize/2 { // a pattern's functions: rank them first
		writeLatencyRanking(ew, funcs, l.By)
		funcs = slices.Clone(funcs)
		slices.SortStableFunc(funcs, func(x, y *FuncLatency) int { return cmp.Compare(y.Count, x.Count) })
	}
	for _, f := range funcs {
		name := f.Name
		if f.Group != "" {
			name += " [" + l.By + "=" + f.Group + "]"
		}
		exact := "exact"
		if !f.Exact {
			exact = "approx. ±0.8%"
		}
		p("\n%s: %d calls  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%s)\n", name, f.Count,
			FormatNS(f.P50), FormatNS(f.P90), FormatNS(f.P99), FormatNS(f.P999), FormatNS(f.Max), exact)
		if f.Unmatched != nil {
			p("  unmatched: %d entries (%d open at end), %d returns%s\n", f.Unmatched.Entries, f.Unmatched.OpenAtEnd, f.Unmatched.Returns, acrossGapText(f.Unmatched.AcrossGap))
		}
		if len(f.Display) > 0 {
			p("\n")
			writeLog2Hist(ew, unit, f.Display)
		}
	}
	if l.By != "" && len(l.Unmatched) > 0 {
		p("\nUnmatched per function:\n")
		for _, u := range l.Unmatched {
			p("  %s: %d entries (%d open at end), %d returns%s\n", u.Name, u.Entries, u.OpenAtEnd, u.Returns, acrossGapText(u.AcrossGap))
		}
	}
	return ew.err
}

func fmtPct(v *float64) string {
	if v == nil {
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", *v)
}

func fmtP(v *float64) string {
	if v == nil {
		return "-"
	}
	if *v == 0 {
		return "<1e-300"
	}
	if *v < 1e-4 {
		return fmt.Sprintf("%.1e", *v)
	}
	return fmt.Sprintf("%.4f", *v)
}

// WriteDiffText prints a comparison for people, warnings first.
func WriteDiffText(w io.Writer, d *Diff) error {
	ew := &errWriter{w: w}
	p := ew.printf
	for _, wn := range d.Warnings {
		p("%s\n", wn)
	}
	if len(d.Warnings) > 0 {
		p("\n")
	}
	for _, t := range []struct {
		n string
		i TraceInfo
	}{{"A", d.A}, {"B", d.B}} {
		p("%s: %s  kernel %s  host %s  span %s  %d events  lost %d (%.3f%%)  unmatched %d entries %d returns\n",
			t.n, t.i.File, t.i.Kernel, t.i.Hostname, FormatNS(t.i.DurationNS), t.i.Events, t.i.Lost, t.i.LostPct,
			t.i.UnmatchedEntries, t.i.UnmatchedReturns)
	}
	p("\nSources (events):\n")
	tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  SOURCE\tA\tB\tCHANGE\tA RATE/s\tB RATE/s\tCHANGE\tLOST A\tLOST B\t\n")
	for _, pd := range d.Probes {
		if pd.Kind != "source" {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%.1f\t%.1f\t%s\t%d\t%d\t\n", pd.Name, pd.A.Count, pd.B.Count, fmtPct(pd.CountChangePct),
			pd.A.RatePerSec, pd.B.RatePerSec, fmtPct(pd.RateChangePct), pd.A.Lost, pd.B.Lost)
	}
	tw.Flush()
	hasLat := false
	for _, pd := range d.Probes {
		hasLat = hasLat || pd.Kind == "latency"
	}
	if hasLat {
		p("\nLatency (Mann-Whitney U and Kolmogorov-Smirnov two-sided p-values; * = p < %g):\n", d.Alpha)
		tw = tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  FUNCTION\tA N\tB N\tP50 A\tP50 B\tCHANGE\tP99 A\tP99 B\tCHANGE\tMW p\tKS p\t\t\n")
		for _, pd := range d.Probes {
			if pd.Kind != "latency" {
				continue
			}
			sig := ""
			if pd.Significant {
				sig = "*"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", pd.Name, pd.A.Count, pd.B.Count,
				FormatNS(pd.A.P50), FormatNS(pd.B.P50), fmtPct(pd.P50ChangePct),
				FormatNS(pd.A.P99), FormatNS(pd.B.P99), fmtPct(pd.P99ChangePct), fmtP(pd.PValue), fmtP(pd.KSPValue), sig)
		}
		tw.Flush()
	}
	if len(d.Stacks) > 0 {
		p("\nLargest stack changes (share of all stack samples: A %d, B %d):\n", d.StacksA, d.StacksB)
		changed := 0
		for _, s := range d.Stacks {
			if s.DeltaPoints == 0 {
				continue
			}
			changed++
			p("  %+7.2f pts  %6.2f%% → %6.2f%%  %s\n", s.DeltaPoints, s.ShareA, s.ShareB, s.Stack)
		}
		if changed == 0 {
			p("  (no stack changed its share)\n")
		}
	}
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

// Write escapes control bytes other than newlines: the names printed come
// from the trace file and the traced programs (comm, probe arguments), and an
// escape sequence there must not reach the terminal.
func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if _, err := e.w.Write(replay.EscapeControlLines(b)); err != nil {
		e.err = err
		return 0, err
	}
	return len(b), nil
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }

// orUnknown prints a command name in a table: "?" when unknown, its control
// bytes (a newline, a tab) escaped so that it stays in its row and column.
func orUnknown(comm string) string {
	if comm == "" {
		return "?"
	}
	return replay.EscapeControl(comm)
}
