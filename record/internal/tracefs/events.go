//go:build linux

package tracefs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kpcap/kpcap/record/internal/closest"
)

// ErrNoEvent is matched (errors.Is) by the errors for a trace event or
// pattern that names nothing on this kernel: a mistake in the request, not
// in the system.
var ErrNoEvent = errors.New("no such trace event")

// noEventError carries the message (with suggestions) of an ErrNoEvent.
type noEventError struct{ msg string }

func (e *noEventError) Error() string { return e.msg }

func (e *noEventError) Is(target error) bool { return target == ErrNoEvent }

// checkName refuses names that would escape the events directory.
func checkName(kind, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("bad %s name %q", kind, s)
	}
	return nil
}

func (fs *FS) eventFile(group, event, file string) (string, error) {
	if err := checkName("group", group); err != nil {
		return "", err
	}
	if err := checkName("event", event); err != nil {
		return "", err
	}
	return filepath.Join(fs.Dir, "events", group, event, file), nil
}

// EventID returns the id of events/GROUP/EVENT: the perf config for PERF_TYPE_TRACEPOINT.
func (fs *FS) EventID(group, event string) (uint64, error) {
	p, err := fs.eventFile(group, event, "id")
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fs.noSuchEvent(group, event)
		}
		return 0, fmt.Errorf("read event id: %w", err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", p, err)
	}
	return id, nil
}

// Format returns the text of events/GROUP/EVENT/format.
func (fs *FS) Format(group, event string) (string, error) {
	p, err := fs.eventFile(group, event, "format")
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fs.noSuchEvent(group, event)
		}
		return "", fmt.Errorf("read event format: %w", err)
	}
	return string(b), nil
}

// listDirs returns the names of the subdirectories of dir.
func listDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Glob returns the sorted "group:event" names matching pattern, e.g. "syscalls:sys_enter_open*".
// Either part may hold shell wildcards (* ? [...]); "group/event" is accepted too, and a pattern
// without a separator matches event names in every group. It fails, suggesting close names,
// when nothing matches.
func (fs *FS) Glob(pattern string) ([]string, error) {
	gpat, epat, ok := strings.Cut(pattern, ":")
	if !ok {
		gpat, epat, ok = strings.Cut(pattern, "/")
	}
	if !ok {
		gpat, epat = "*", pattern
	}
	if gpat == "" || epat == "" {
		return nil, fmt.Errorf("bad event pattern %q: want GROUP:EVENT, e.g. syscalls:sys_enter_open*", pattern)
	}
	for _, p := range []string{gpat, epat} {
		if _, err := path.Match(p, ""); err != nil || strings.ContainsAny(p, "/:") {
			return nil, fmt.Errorf("bad event pattern %q: %q: %w", pattern, p, path.ErrBadPattern)
		}
	}
	evdir := filepath.Join(fs.Dir, "events")
	groups, err := listDirs(evdir)
	if err != nil {
		return nil, fmt.Errorf("list trace events: %w", err)
	}
	var out, gmatched, events []string
	for _, g := range groups {
		if gm, _ := path.Match(gpat, g); !gm {
			continue
		}
		gmatched = append(gmatched, g)
		evs, err := listDirs(filepath.Join(evdir, g))
		if err != nil {
			continue // a group may vanish while we look (another tool removed its probes)
		}
		for _, e := range evs {
			events = append(events, g+":"+e)
			if em, _ := path.Match(epat, e); em {
				out = append(out, g+":"+e)
			}
		}
	}
	if len(gmatched) == 0 {
		return nil, &noEventError{fmt.Sprintf("no trace event group matches %q%s", gpat, didYouMean(suggest(groups, gpat, 5)))}
	}
	if len(out) == 0 {
		return nil, &noEventError{fmt.Sprintf("no trace event matches %q%s", pattern, didYouMean(suggest(events, epat, 5)))}
	}
	sort.Strings(out)
	return out, nil
}

// noSuchEvent is the error for a missing events/GROUP/EVENT, with the closest
// existing names: a typo (sched_swich) or a wrong group (syscall:) is the usual cause.
func (fs *FS) noSuchEvent(group, event string) error {
	msg := fmt.Sprintf("no such trace event %s:%s", group, event)
	evdir := filepath.Join(fs.Dir, "events")
	if evs, err := listDirs(filepath.Join(evdir, group)); err == nil {
		names := make([]string, len(evs))
		for i, e := range evs {
			names[i] = group + ":" + e
		}
		return &noEventError{msg + didYouMean(suggest(names, event, 5))}
	}
	// No such group: name the groups that have this event, else groups named alike.
	groups, _ := listDirs(evdir)
	var have []string
	for _, g := range groups {
		if isTracefsEvent(filepath.Join(evdir, g, event)) {
			have = append(have, g+":"+event)
		}
	}
	if len(have) == 0 {
		have = suggest(groups, group, 5)
	}
	return &noEventError{fmt.Sprintf("%s (no group %q)%s", msg, group, didYouMean(have[:min(len(have), 5)]))}
}

// isTracefsEvent reports whether dir is an event directory (it has an id file).
func isTracefsEvent(dir string) bool { return exists(filepath.Join(dir, "id")) }

// didYouMean formats suggestions as "; did you mean a, b?", or "" without any.
func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(names, ", ") + "?"
}

// suggest returns up to n names close to the pattern pat: the part after ':' in each name is
// compared with pat without its wildcards, and with a trailing '*' only the name's prefix counts.
func suggest(names []string, pat string, n int) []string {
	prefix := strings.HasSuffix(pat, "*")
	want := strings.NewReplacer("*", "", "?", "").Replace(pat)
	if want == "" {
		return nil
	}
	limit := max(1, len(want)/5)
	var cs closest.Ranked
	for _, name := range names {
		short := name
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			short = name[i+1:]
		}
		cmp := short
		if prefix && len(cmp) > len(want) {
			cmp = cmp[:len(want)]
		}
		if strings.Contains(short, want) {
			cs.Add(name, 0)
		} else if d := closest.Distance(cmp, want, limit); d <= limit {
			cs.Add(name, d)
		}
	}
	return cs.Best(n)
}
