//go:build linux

package record

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kpcap/kpcap/record/discover"
	"github.com/kpcap/kpcap/record/internal/elfsym"
)

// globProbe is one function a pattern matched, as a probe definition.
type globProbe struct {
	def    string // "p:uprobes/readline /usr/bin/bash:0x...": what is created
	target string // "/usr/bin/bash:readline": the function, shared by entry and return
	user   string // the pattern definition as given
}

// isGlob reports whether s holds path.Match metacharacters.
func isGlob(s string) bool { return strings.ContainsAny(s, `*?[`) }

// splitProbeGlob finds the pattern of a p/r/f definition: its head ("p",
// "r", "r64", "f", "fr" for an fprobe on return), the target, the rest
// (fetchargs), and whether the target is a pattern ("vfs_*",
// "/usr/bin/bash:*readline*").
func splitProbeGlob(def string) (head, target, rest string, ok bool) {
	f := strings.Fields(def)
	if len(f) < 2 || f[0] == "" || (f[0][0] != 'p' && f[0][0] != 'r' && f[0][0] != 'f') {
		return "", "", "", false
	}
	target = strings.TrimSuffix(f[1], "%return")
	if strings.HasSuffix(f[1], "%return") {
		if f[0][0] == 'f' {
			f[0] = "fr" + f[0][1:]
		} else {
			f[0] = "r" + f[0][1:]
		}
	}
	if f[0][0] == 'f' && isUprobeTarget(target) {
		return "", "", "", false
	}
	name := target
	if isUprobeTarget(target) {
		i := strings.LastIndexByte(target, ':')
		if i < 0 {
			return "", "", "", false
		}
		name = target[i+1:]
	}
	if !isGlob(name) {
		return "", "", "", false
	}
	return f[0], target, strings.Join(f[2:], " "), true
}

func isUprobeTarget(t string) bool {
	return strings.HasPrefix(t, "/") || strings.HasPrefix(t, "./") || strings.HasPrefix(t, "../")
}

// expandProbeGlob turns a definition whose target is a pattern into one
// definition per matching function, each its own source named after it:
// uprobes from the binary's symbols, kprobes from available_filter_functions
// without the kprobe blacklist and names defined more than once.
func (r *resolver) expandProbeGlob(def, head, target, rest string, max int) ([]globProbe, error) {
	if max <= 0 {
		max = DefaultMaxProbes
	}
	if strings.Contains(head, ":") {
		return nil, &UsageError{fmt.Sprintf("probe %q: a pattern makes one probe per function, each named after it: leave out :EVENT", def)}
	}
	kind, maxact := head[:1], head[1:]
	var out []globProbe
	var skipped []string
	var err error
	switch {
	case isUprobeTarget(target):
		out, skipped, err = uprobeGlob(def, kind, target)
	case kind == "f":
		out, skipped, err = r.fprobeGlob(def, head, maxact, target)
	default:
		out, skipped, err = r.kprobeGlob(def, head, kind, maxact, target)
	}
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].user = def
		if rest != "" {
			out[i].def += " " + rest
		}
	}
	switch {
	case len(out) == 0 && len(skipped) > 0:
		return nil, &UsageError{fmt.Sprintf("probe %q: the pattern matched only names defined more than once, which cannot be probed by name: %s", def, strings.Join(first(skipped, 10), ", "))}
	case len(out) == 0:
		return nil, &UsageError{fmt.Sprintf("probe %q: the pattern matched no function (uprobes: the binary's symbol table; kprobes: %s/available_filter_functions)", def, r.tracefsDir())}
	case len(out) > max:
		return nil, &OptionError{Option: "MaxProbes", Value: strconv.Itoa(max), Err: &UsageError{fmt.Sprintf("probe %q: the pattern matches %d functions, more than %d: narrow it, or raise the limit", def, len(out), max)}}
	}
	if len(skipped) > 0 {
		r.note(fmt.Sprintf("%s: %d matching names defined more than once skipped (%s)", def, len(skipped), strings.Join(first(skipped, 5), ", ")))
	}
	return out, nil
}

// uprobeGlob makes one uprobe per function of the binary the pattern
// matches; names defined at several addresses are skipped.
func uprobeGlob(def, kind, target string) (out []globProbe, skipped []string, err error) {
	const group = "uprobes"
	i := strings.LastIndexByte(target, ':')
	bin, pat := target[:i], target[i+1:]
	if _, err := path.Match(pat, ""); err != nil {
		return nil, nil, &UsageError{fmt.Sprintf("probe %q: %v", def, err)}
	}
	funcs, err := elfsym.Functions(bin)
	if err != nil {
		return nil, nil, &UsageError{fmt.Sprintf("probe %q: %v", def, err)}
	}
	// Functions is sorted by name: a name at several addresses is ambiguous.
	for i := 0; i < len(funcs); {
		j := i + 1
		for j < len(funcs) && funcs[j].Name == funcs[i].Name {
			j++
		}
		if ok, _ := path.Match(pat, funcs[i].Name); ok {
			if j-i > 1 {
				skipped = append(skipped, funcs[i].Name)
			} else {
				fn := funcs[i]
				out = append(out, globProbe{target: bin + ":" + fn.Name, def: fmt.Sprintf("%s:%s/%s %s:0x%x", kind, group, probeEvent(kind, fn.Name), bin, fn.Offset)})
			}
		}
		i = j
	}
	return out, skipped, nil
}

// fprobeGlob makes one fprobe event per kernel function the pattern
// matches (the kernel's fprobe events take one symbol); "fr" returns.
func (r *resolver) fprobeGlob(def, head, maxact, target string) ([]globProbe, []string, error) {
	if maxact != "" && maxact != "r" {
		return nil, nil, &UsageError{fmt.Sprintf("probe %q: bad head %q", def, head)}
	}
	if fs, err := r.tracefs(); err == nil && fs.Readme() != "" && !strings.Contains(fs.Readme(), "f[:[<group>/][<event>]]") {
		alt := "p " + target
		if maxact == "r" {
			alt = "r " + target
		}
		return nil, nil, &UsageError{fmt.Sprintf("probe %q: this kernel has no fprobe events (f): they need Linux 6.5+ with CONFIG_FPROBE_EVENTS; use kprobes instead: %q with the same arguments", def, alt)}
	}
	names, skipped, err := r.kernelFuncs(target)
	if err != nil {
		return nil, nil, err
	}
	ev, ret := "p", ""
	if maxact == "r" {
		ev, ret = "r", "%return"
	}
	var out []globProbe
	for _, n := range names {
		out = append(out, globProbe{target: n, def: fmt.Sprintf("f:fprobes/%s %s%s", probeEvent(ev, n), n, ret)})
	}
	return out, skipped, nil
}

// kprobeGlob makes one kprobe or kretprobe per kernel function the pattern
// matches.
func (r *resolver) kprobeGlob(def, head, kind, maxact, target string) ([]globProbe, []string, error) {
	const group = "kprobes"
	if maxact != "" && kind != "r" {
		return nil, nil, &UsageError{fmt.Sprintf("probe %q: bad head %q", def, head)}
	}
	names, skipped, err := r.kernelFuncs(target)
	if err != nil {
		return nil, nil, err
	}
	var out []globProbe
	for _, n := range names {
		out = append(out, globProbe{target: n, def: fmt.Sprintf("%s%s:%s/%s %s", kind, maxact, group, probeEvent(kind, n), n)})
	}
	return out, skipped, nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "...")
	}
	return s
}

// probeEvent names the event of one matched function: the function (made an
// identifier), with "__return" for return probes so both can be recorded.
func probeEvent(kind, fn string) string {
	e := ident(fn)
	if kind == "r" {
		e += "__return"
	}
	if len(e) > 63 {
		e = e[:63]
	}
	return e
}

func (r *resolver) tracefsDir() string {
	if fs, err := r.tracefs(); err == nil {
		return fs.Dir
	}
	return "/sys/kernel/tracing"
}

// kernelFuncs lists the traceable kernel functions matching pattern
// (discover.Functions: available_filter_functions minus the kprobe
// blacklist), without names listed twice (static functions of several
// files), which are returned apart.
func (r *resolver) kernelFuncs(pattern string) (names, ambiguous []string, err error) {
	if !r.kprobesAvailable() {
		return nil, nil, fmt.Errorf("probe pattern %s: %w", pattern, ErrNoKprobes)
	}
	fs, err := r.tracefs()
	if err != nil {
		return nil, nil, err
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, nil, &UsageError{fmt.Sprintf("probe pattern %s: %v", pattern, err)}
	}
	count := map[string]int{}
	var order []string
	_, err = discover.Functions(&discover.Tracing{Dir: fs.Dir}, pattern, r.note, func(f discover.Function) error {
		if count[f.Name] == 0 {
			order = append(order, f.Name)
		}
		count[f.Name]++
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("probe pattern %s: %w", pattern, err)
	}
	for _, n := range order {
		if count[n] > 1 {
			ambiguous = append(ambiguous, n)
		} else {
			names = append(names, n)
		}
	}
	return names, ambiguous, nil
}

// addGlobs creates one probe per function each pattern definition matches,
// announcing the count and the time taken when there are many.
func (r *resolver) addGlobs(defs []string, max int) error {
	for _, def := range defs {
		head, target, rest, _ := splitProbeGlob(def)
		gps, err := r.expandProbeGlob(def, head, target, rest, max)
		if err != nil {
			return err
		}
		defs := make([]string, len(gps))
		for i, gp := range gps {
			defs[i] = gp.def
		}
		// As one list: names and $retval are resolved through BTF, loaded once.
		probes, err := parseProbes(defs)
		if err != nil {
			return fmt.Errorf("probe %q: %w", def, err)
		}
		start := time.Now()
		many := len(gps) >= manyProbes
		if many {
			r.note(fmt.Sprintf("%s: attaching %d functions...", def, len(gps)))
		}
		for i, gp := range gps {
			if err := r.addProbeAs(probes[i], gp.user, gp.target); err != nil {
				return err
			}
			if r.attaching != nil {
				r.attaching("probes", i+1, len(gps))
			}
		}
		if many {
			r.note(fmt.Sprintf("%s: %d probes created in %.2fs", def, len(gps), time.Since(start).Seconds()))
		}
	}
	return nil
}

// manyProbes is the pattern size whose attaching is announced.
const manyProbes = 50
