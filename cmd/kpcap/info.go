package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
)

func init() {
	register(&command{
		name:    "info",
		summary: "summarize a trace: host, event sources, counts, losses, time span",
		usage:   infoUsage,
		run:     runInfo,
	})
}

const infoUsage = `Usage: kpcap info [--json] [--check] FILE...

Summarize a trace without decoding its samples: the host and kernel that
recorded it, every event source with its definition and filter, the events and
losses of each, the time span, the file's frames and sizes, notes, and
warnings about damage (a truncated or corrupt file opens with warnings).

Several files, a quoted glob or a directory are read as one trace (the
files of a rotated recording, in sequence order): the summary covers them
all, then lists each file with its place in the set, span, events and
losses, and the gaps between them (files deleted by --keep).

Without --check, info reads the header, the seek index and the metadata,
not the samples: damage inside a sample frame shows only in replay and
analyze. --check reads every sample frame as well and names each damaged
one: its byte offset in the file, the damaged block's kind and raw offset
in the frame (or the frame's checksum failure), and how many events were
read before it; info then exits 1.

Lost counts are what the kernel reported as dropped (ring buffer full,
kretprobe misses); a trace with lost events is incomplete.

With --json the summary is one JSON object with the keys: file, bytes,
raw_bytes, frames, indexed, format_version, application, hostname, kernel,
machine, os, cpus, start_ns, end_ns, duration_ns, wall_start, events, lost,
probes (objects with name, kind, definition, filter, target, count, lost),
symbols, user_frames, comms, capture, notes, warnings, set (the file's set
block: id, seq, mode, start_ns, end_ns, samples, lost, trigger), files (per
file: path, bytes, set, events, lost, start_ns, end_ns) and gaps (start_ns,
end_ns, missing sequence numbers), and with --check, check (frames,
events, damage: frame, file, offset, error, events_before,
events_in_frame, compressed_bytes).

Examples:
  kpcap info trace.pcapng.zst
  kpcap info --check copied.pcapng.zst
  kpcap info --json trace.pcapng.zst | jq '.probes[] | {name, count, lost}'
  kpcap info 'trace-*.pcapng.zst'
`

// infoJSON is the --json output; scripts rely on its keys.
type infoJSON struct {
	File          string          `json:"file"`
	Bytes         int64           `json:"bytes"`
	RawBytes      int64           `json:"raw_bytes"`
	Frames        int             `json:"frames"`
	Indexed       bool            `json:"indexed"`
	FormatVersion string          `json:"format_version"`
	Application   string          `json:"application"`
	Hostname      string          `json:"hostname"`
	Kernel        string          `json:"kernel"`
	Machine       string          `json:"machine"`
	OS            string          `json:"os"`
	CPUs          int             `json:"cpus"`
	StartNS       uint64          `json:"start_ns"`
	EndNS         uint64          `json:"end_ns"`
	DurationNS    uint64          `json:"duration_ns"`
	WallStart     string          `json:"wall_start,omitempty"`
	Events        uint64          `json:"events"`
	Lost          uint64          `json:"lost"`
	Probes        []infoProbe     `json:"probes"`
	Symbols       int             `json:"symbols"`
	UserFrames    int             `json:"user_frames"`
	Comms         int             `json:"comms"`
	Cgroups       int             `json:"cgroups,omitempty"` // cgroups named (recorded with --cgroup)
	Capture       format.Capture  `json:"capture"`
	Notes         []string        `json:"notes"`
	Warnings      []string        `json:"warnings"`
	Check         *infoCheck      `json:"check,omitempty"` // --check
	Set           *format.SetInfo `json:"set,omitempty"`
	Files         []infoFile      `json:"files,omitempty"`
	Gaps          []infoGap       `json:"gaps,omitempty"`
}

// infoFile is one file of a trace read from several.
type infoFile struct {
	Path    string          `json:"path"`
	Bytes   int64           `json:"bytes"`
	Set     *format.SetInfo `json:"set,omitempty"`
	Events  uint64          `json:"events"`
	Lost    uint64          `json:"lost"`
	StartNS uint64          `json:"start_ns"`
	EndNS   uint64          `json:"end_ns"`
}

// infoGap is time that no file of the trace covers.
type infoGap struct {
	StartNS uint64 `json:"start_ns"`
	EndNS   uint64 `json:"end_ns"`
	Missing []int  `json:"missing,omitempty"`
}

type infoProbe struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Definition string `json:"definition"`
	Filter     string `json:"filter"`
	Target     string `json:"target,omitempty"`
	Path       string `json:"path"` // how it was captured: perf or bpf
	Count      uint64 `json:"count"`
	Lost       uint64 `json:"lost"`
}

func runInfo(args []string) error {
	c := commands["info"]
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	check := fs.Bool("check", false, "also read every sample frame and name the damaged ones (offset, block, what was read before); exit 1 if any")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usagef("expected a trace FILE (or several files of a set, a quoted glob, a directory)")
	}
	return writeInfo(os.Stdout, fs.Args(), *asJSON, *check)
}

// writeInfo opens the trace args name and prints its summary to out; with
// check, it reads every sample frame too (see checkFrames).
func writeInfo(out io.Writer, args []string, asJSON, check bool) error {
	f, path, err := openTrace(args)
	if err != nil {
		return err
	}
	defer f.Close()
	info := summarize(path, f)
	if check {
		info.Check = checkFrames(f)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info); err != nil {
			return err
		}
	} else if err := printInfo(out, info); err != nil {
		return err
	}
	if check {
		return checkErr(path, info.Check)
	}
	return nil
}

func summarize(path string, f *format.File) *infoJSON {
	h := &f.Header
	info := &infoJSON{
		File:          path,
		Bytes:         f.Size,
		RawBytes:      f.RawBytes,
		Frames:        len(f.Frames) + f.MetaFrames,
		Indexed:       f.Indexed,
		FormatVersion: fmt.Sprintf("%d.%d", h.FormatVersion[0], h.FormatVersion[1]),
		Application:   h.Application,
		Hostname:      h.Host.Hostname,
		Kernel:        h.Host.Kernel,
		Machine:       h.Host.Machine,
		OS:            h.Host.OS,
		CPUs:          h.Host.CPUs,
		Probes:        []infoProbe{},
		Symbols:       len(f.Symbols),
		UserFrames:    len(f.UserFrames),
		Comms:         len(f.Comms),
		Cgroups:       len(f.Cgroups),
		Capture:       h.Capture,
		Notes:         append([]string{}, h.Notes...),
		Warnings:      append([]string{}, f.Warnings...),
	}
	info.Set = h.Set
	if len(f.Parts) > 1 {
		for _, p := range f.Parts {
			info.Files = append(info.Files, infoFile{Path: p.Path, Bytes: p.Size, Set: p.Set,
				Events: p.Samples, Lost: p.Lost, StartNS: p.StartNS, EndNS: p.EndNS})
		}
	}
	for _, g := range f.Gaps {
		info.Gaps = append(info.Gaps, infoGap{StartNS: g.StartNS, EndNS: g.EndNS, Missing: g.Missing})
	}
	first := true
	lostBy := f.LostBySource()
	for i, src := range h.Sources {
		p := infoProbe{Name: src.Name, Kind: src.Kind.String(), Definition: src.Definition,
			Filter: src.Filter, Target: src.Target, Path: cmp.Or(src.Path, format.PathPerf)}
		if i < len(f.Stats) {
			st := f.Stats[i]
			p.Count, p.Lost = st.Received, lostBy[i]
			if st.Received > 0 {
				if first || st.StartNS < info.StartNS {
					info.StartNS = st.StartNS
				}
				info.EndNS = max(info.EndNS, st.EndNS)
				first = false
			}
		}
		info.Events += p.Count
		info.Probes = append(info.Probes, p)
	}
	// The same total as record, replay and analyze.
	info.Lost = f.LostTotal()
	if first { // no stats with samples: fall back to the frame index
		for _, fi := range f.Frames {
			if first || fi.FirstNS < info.StartNS {
				info.StartNS = fi.FirstNS
			}
			info.EndNS = max(info.EndNS, fi.LastNS)
			first = false
		}
	}
	if info.EndNS > info.StartNS {
		info.DurationNS = info.EndNS - info.StartNS
	}
	if h.Host.WallOffsetNS != 0 && info.StartNS != 0 {
		info.WallStart = time.Unix(0, int64(info.StartNS)+h.Host.WallOffsetNS).UTC().Format(time.RFC3339Nano)
	}
	return info
}

func printInfo(out io.Writer, in *infoJSON) error {
	out = escapeWriter{out} // notes, host and source names come from the file
	var b strings.Builder
	infoFileLines(&b, in)
	infoSpanLines(&b, in)
	if _, err := io.WriteString(out, b.String()); err != nil {
		return err
	}
	if err := printInfoSources(out, in); err != nil {
		return err
	}
	if err := printInfoFiles(out, in); err != nil {
		return err
	}
	for _, sec := range []struct {
		title string
		lines []string
	}{{"Notes", in.Notes}, {"Warnings", in.Warnings}} {
		if len(sec.lines) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s:\n", sec.title)
		for _, l := range sec.lines {
			fmt.Fprintf(out, "  - %s\n", l)
		}
	}
	if in.Check != nil {
		printCheck(out, in.Check)
	}
	return nil
}

// infoFileLines writes the File, Size, Format, Host, Command and Targets
// lines.
func infoFileLines(b *strings.Builder, in *infoJSON) {
	idx := "indexed"
	if !in.Indexed {
		idx = "no index: scanned"
	}
	fmt.Fprintf(b, "File:        %s\n", in.File)
	fmt.Fprintf(b, "Size:        %s compressed, %s raw (%.1fx), %d frames, %s\n",
		byteSize(in.Bytes, 1), byteSize(in.RawBytes, 1), infoRatio(in.RawBytes, in.Bytes), in.Frames, idx)
	fmt.Fprintf(b, "Format:      kpcap trace %s, written by %s\n", in.FormatVersion, infoOrDash(in.Application))
	host := infoOrDash(in.Hostname)
	var hw []string
	if in.OS != "" || in.Kernel != "" {
		hw = append(hw, strings.TrimSpace(in.OS+" "+in.Kernel))
	}
	if in.Machine != "" {
		hw = append(hw, in.Machine)
	}
	if in.CPUs > 0 {
		hw = append(hw, fmt.Sprintf("%d CPUs", in.CPUs))
	}
	if len(hw) > 0 {
		host += " (" + strings.Join(hw, ", ") + ")"
	}
	fmt.Fprintf(b, "Host:        %s\n", host)
	if len(in.Capture.Args) > 0 {
		q := make([]string, len(in.Capture.Args))
		for i, a := range in.Capture.Args {
			q[i] = infoQuote(a)
		}
		fmt.Fprintf(b, "Command:     %s\n", strings.Join(q, " "))
	}
	if in.Capture.Targets != "" {
		fmt.Fprintf(b, "Targets:     %s\n", in.Capture.Targets)
	}
}

// infoSpanLines writes the Time span, Set, Trigger, Events and Metadata
// lines.
func infoSpanLines(b *strings.Builder, in *infoJSON) {
	span := "-"
	if in.Events > 0 {
		span = fmt.Sprintf("%s (%.9f to %.9f s on the capture clock)",
			time.Duration(in.DurationNS).String(), float64(in.StartNS)/1e9, float64(in.EndNS)/1e9)
		if in.WallStart != "" {
			span += ", started " + in.WallStart
		}
	}
	fmt.Fprintf(b, "Time span:   %s\n", span)
	if s := in.Set; s != nil && len(in.Files) == 0 {
		fmt.Fprintf(b, "Set:         %s, file %d (%s)%s\n", s.ID, s.Seq, infoOrDash(s.Mode), infoSpan(s))
		if s.Trigger != "" {
			fmt.Fprintf(b, "Trigger:     %s\n", s.Trigger)
		}
	}
	rate := ""
	if in.DurationNS > 0 {
		rate = fmt.Sprintf(" (%.0f/s)", float64(in.Events)/(float64(in.DurationNS)/1e9))
	}
	lost := fmt.Sprintf("%d", in.Lost)
	if in.Lost > 0 {
		lost += " (the trace is incomplete)"
	}
	fmt.Fprintf(b, "Events:      %d%s, lost %s\n", in.Events, rate, lost)
	fmt.Fprintf(b, "Metadata:    %d kernel symbols, %d user frames, %d comm records", in.Symbols, in.UserFrames, in.Comms)
	if in.Cgroups > 0 {
		fmt.Fprintf(b, ", %d cgroups", in.Cgroups)
	}
	b.WriteByte('\n')
}

// printInfoSources prints the table of event sources.
func printInfoSources(out io.Writer, in *infoJSON) error {
	if len(in.Probes) == 0 {
		return nil
	}
	fmt.Fprintln(out, "\nEvent sources:")
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tKIND\tPATH\tEVENTS\tLOST\tDEFINITION")
	for _, p := range in.Probes {
		def := p.Definition
		if p.Filter != "" {
			def += "  [filter: " + p.Filter + "]"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\n", p.Name, p.Kind, p.Path, p.Count, p.Lost, def)
	}
	return tw.Flush()
}

// infoQuote quotes a command-line argument for a POSIX shell when needed.
func infoQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func infoOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func infoRatio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// escapeWriter escapes control bytes other than newlines in text for people,
// so that a hostile or odd trace cannot send escape sequences to the terminal.
type escapeWriter struct{ w io.Writer }

func (e escapeWriter) Write(b []byte) (int, error) {
	if _, err := e.w.Write(replay.EscapeControlLines(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// infoSpan describes a set file's span and the loss within it.
func infoSpan(s *format.SetInfo) string {
	if !s.Final {
		return ", not closed cleanly"
	}
	return fmt.Sprintf(", span %.9f to %.9f s, %d events, %d lost in it", float64(s.StartNS)/1e9, float64(s.EndNS)/1e9, s.Samples, s.Lost)
}

// printInfoFiles lists the files of a trace read from several, and the gaps.
func printInfoFiles(out io.Writer, in *infoJSON) error {
	if len(in.Files) == 0 {
		return nil
	}
	fmt.Fprintln(out, "\nFiles:")
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  FILE\tSET/SEQ\tSTART (s)\tEND (s)\tEVENTS\tLOST\tSIZE")
	var events, lost uint64
	for _, f := range in.Files {
		seq := "-"
		if f.Set != nil {
			seq = fmt.Sprintf("%s/%d", f.Set.ID, f.Set.Seq)
			if f.Set.Trigger != "" {
				seq += " [" + f.Set.Trigger + "]"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.6f\t%.6f\t%d\t%d\t%s\n", f.Path, seq, float64(f.StartNS)/1e9, float64(f.EndNS)/1e9, f.Events, f.Lost, byteSize(f.Bytes, 1))
		events += f.Events
		lost += f.Lost
	}
	fmt.Fprintf(tw, "  total\t\t\t\t%d\t%d\t%s\n", events, lost, byteSize(in.Bytes, 1))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(in.Gaps) > 0 {
		fmt.Fprintln(out, "\nGaps:")
		for _, g := range in.Gaps {
			what := "no file"
			if n := len(g.Missing); n == 1 {
				what = fmt.Sprintf("file %d missing", g.Missing[0])
			} else if n > 1 {
				what = fmt.Sprintf("files %d-%d missing", g.Missing[0], g.Missing[n-1])
			}
			if g.StartNS == 0 {
				// The set's first files are gone: where they began is unknown.
				fmt.Fprintf(out, "  before %.6f s: %s\n", float64(g.EndNS)/1e9, what)
				continue
			}
			fmt.Fprintf(out, "  %.6f to %.6f s: %s\n", float64(g.StartNS)/1e9, float64(g.EndNS)/1e9, what)
		}
	}
	return nil
}
