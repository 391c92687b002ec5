//go:build linux

// Package tracefs finds (and if needed mounts) the kernel's tracefs and manages what kpcap
// keeps there: tracepoint ids and formats, and the dynamic kprobe/uprobe events kpcap creates
// in groups of its own (kpcap_<pid>), which it sweeps when their process is gone.
package tracefs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kpcap/kpcap/record/internal/closest"
	"golang.org/x/sys/unix"
)

const (
	defaultDir  = "/sys/kernel/tracing"
	debugfsDir  = "/sys/kernel/debug/tracing"
	groupPrefix = "kpcap_"
)

// sysBus is where perf PMUs are described; a variable so tests can point elsewhere.
var sysBus = "/sys/bus/event_source/devices"

// ErrNoEvent is matched (errors.Is) by the errors for a trace event or
// pattern that names nothing on this kernel: a mistake in the request, not
// in the system.
var ErrNoEvent = errors.New("no such trace event")

// noEventError carries the message (with suggestions) of an ErrNoEvent.
type noEventError struct{ msg string }

func (e *noEventError) Error() string        { return e.msg }
func (e *noEventError) Is(target error) bool { return target == ErrNoEvent }

// Find returns the tracefs directory: a tracefs mount from /proc/mounts (preferring
// /sys/kernel/tracing), else the tracing directory of a debugfs mount. When neither exists it
// mounts tracefs at /sys/kernel/tracing, which needs root (CAP_SYS_ADMIN).
func Find() (dir string, err error) {
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "", fmt.Errorf("find tracefs: %w", err)
	}
	for _, d := range candidates(string(mounts)) {
		if isTracefs(d) {
			return d, nil
		}
		if _, err := os.Stat(filepath.Join(d, "events")); errors.Is(err, os.ErrPermission) {
			return "", fmt.Errorf("tracefs at %s: %w: kpcap needs root to create probes and read trace events", d, err)
		}
	}
	if err := unix.Mount("nodev", defaultDir, "tracefs", 0, ""); err != nil {
		switch {
		case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
			return "", fmt.Errorf("tracefs is not mounted and mounting it at %s failed: %w: "+
				"run kpcap as root (CAP_SYS_ADMIN), or mount it first: mount -t tracefs nodev %s", defaultDir, err, defaultDir)
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV):
			return "", fmt.Errorf("tracefs is not mounted and mounting it at %s failed: %w: "+
				"the kernel may lack CONFIG_TRACING, or /sys is not mounted (containers)", defaultDir, err)
		}
		return "", fmt.Errorf("mount tracefs at %s: %w", defaultDir, err)
	}
	if !isTracefs(defaultDir) {
		return "", fmt.Errorf("mounted tracefs at %s but it has no events directory", defaultDir)
	}
	return defaultDir, nil
}

// candidates returns the tracing directories named by /proc/mounts text, best first.
func candidates(mounts string) []string {
	var tracefs, debugfs []string
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := unescapeMount(f[1])
		switch f[2] {
		case "tracefs":
			if mp == defaultDir {
				tracefs = append([]string{mp}, tracefs...)
			} else {
				tracefs = append(tracefs, mp)
			}
		case "debugfs":
			debugfs = append(debugfs, filepath.Join(mp, "tracing"))
		}
	}
	return append(tracefs, debugfs...)
}

// unescapeMount undoes the octal escapes (\040 for space) of /proc/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isTracefs(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "events"))
	return err == nil && st.IsDir()
}

// FS is a tracefs mount.
type FS struct{ Dir string }

// Open finds (or mounts) tracefs.
func Open() (*FS, error) {
	d, err := Find()
	if err != nil {
		return nil, err
	}
	return &FS{Dir: d}, nil
}

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

// HasKprobes reports whether this kernel has kprobe events: the kprobe_events file and the
// kprobe PMU (CONFIG_KPROBES with CONFIG_KPROBE_EVENTS).
func (fs *FS) HasKprobes() bool {
	return exists(filepath.Join(fs.Dir, "kprobe_events")) && exists(filepath.Join(sysBus, "kprobe"))
}

// HasUprobes reports whether this kernel has uprobe events and the uprobe PMU.
func (fs *FS) HasUprobes() bool {
	return exists(filepath.Join(fs.Dir, "uprobe_events")) && exists(filepath.Join(sysBus, "uprobe"))
}

// HasRefCtr reports whether uprobe_events takes a reference counter
// (PATH:OFFSET(REF_CTR_OFFSET), Linux 4.20+), as tracefs's README says.
func (fs *FS) HasRefCtr() bool {
	b, err := os.ReadFile(filepath.Join(fs.Dir, "README"))
	return err == nil && strings.Contains(string(b), "(ref_ctr_offset)")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// AddKprobe appends a definition line to kprobe_events. Failures carry the kernel's
// explanation from tracing/error_log.
func (fs *FS) AddKprobe(line string) error { return fs.add("kprobe_events", line) }

// AddDynEvent appends a definition line to dynamic_events: the only way to
// create fprobes (f), tracepoint probes (t) and event probes (e). Failures
// carry the kernel's explanation from tracing/error_log.
func (fs *FS) AddDynEvent(line string) error { return fs.add("dynamic_events", line) }

// RemoveDynEvent deletes the dynamic event GROUP/EVENT (see RemoveKprobe).
func (fs *FS) RemoveDynEvent(group, event string) error {
	return fs.remove("dynamic_events", group, event)
}

// Readme returns the text of tracefs README, which lists the probe syntax the
// running kernel accepts ("" if unreadable).
func (fs *FS) Readme() string {
	b, err := os.ReadFile(filepath.Join(fs.Dir, "README"))
	if err != nil {
		return ""
	}
	return string(b)
}

// AddUprobe appends a definition line to uprobe_events. Failures carry the kernel's
// explanation from tracing/error_log.
func (fs *FS) AddUprobe(line string) error { return fs.add("uprobe_events", line) }

func (fs *FS) add(file, line string) error {
	line = strings.TrimSpace(line)
	switch {
	case line == "":
		return fmt.Errorf("add probe: empty definition")
	case strings.ContainsAny(line, "\n\r#"):
		// A newline would smuggle in a second command (e.g. a deletion); '#' truncates the line.
		return fmt.Errorf("add probe %q: newlines and '#' are not allowed", line)
	case line[0] == '-':
		return fmt.Errorf("add probe %q: deletions go through Remove", line)
	}
	return fs.write(file, line, "add probe")
}

// write appends one command to a *_events file. O_APPEND matters: opening with O_TRUNC
// would delete every dynamic event, other tools' too.
func (fs *FS) write(file, cmd, what string) error {
	p := filepath.Join(fs.Dir, file)
	before := fs.readErrorLog()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			kind := strings.TrimSuffix(file, "_events")
			return fmt.Errorf("%s %q: this kernel has no %s events (%s missing: needs CONFIG_%s_EVENTS)",
				what, cmd, kind, p, strings.ToUpper(kind))
		}
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("%s %q: %w (writing tracefs needs root)", what, cmd, err)
		}
		return fmt.Errorf("%s %q: %w", what, cmd, err)
	}
	_, werr := f.Write([]byte(cmd + "\n"))
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		return nil
	}
	err = fmt.Errorf("%s %q: %w", what, cmd, werr)
	if after := fs.readErrorLog(); after != before {
		if e := lastEntry(after); e != "" {
			err = fmt.Errorf("%w\nkernel says:\n%s", err, e)
		}
	}
	return err
}

// RemoveKprobe deletes the kprobe event GROUP/EVENT. It fails with EBUSY while a perf event
// still uses the probe: close those first.
func (fs *FS) RemoveKprobe(group, event string) error {
	return fs.remove("kprobe_events", group, event)
}

// RemoveUprobe deletes the uprobe event GROUP/EVENT (see RemoveKprobe).
func (fs *FS) RemoveUprobe(group, event string) error {
	return fs.remove("uprobe_events", group, event)
}

func (fs *FS) remove(file, group, event string) error {
	if err := checkName("group", group); err != nil {
		return err
	}
	if err := checkName("event", event); err != nil {
		return err
	}
	err := fs.write(file, "-:"+group+"/"+event, "remove probe")
	var errno unix.Errno
	switch {
	case !errors.As(err, &errno):
	case errno == unix.ENOENT:
		return fmt.Errorf("remove probe %s:%s: no such probe: %w", group, event, errno)
	case errno == unix.EBUSY:
		return fmt.Errorf("remove probe %s:%s: still in use (close its perf events or disable it in tracefs first): %w", group, event, errno)
	}
	return err
}

// GroupName returns kpcap's own event group for process pid: "kpcap_<pid>". Probes live in it
// so that a later run can tell, by the pid, whether their creator is gone.
func (fs *FS) GroupName(pid int) string { return groupPrefix + strconv.Itoa(pid) }

// stalePID returns the pid in a kpcap group name, or 0 if the group is not kpcap's.
func stalePID(group string) int {
	s, ok := strings.CutPrefix(group, groupPrefix)
	if !ok || s == "" {
		return 0
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != s {
		return 0
	}
	return pid
}

// alive reports whether process pid exists (EPERM means it exists but is not ours).
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// probeGroupEvent extracts GROUP and EVENT from a kprobe_events/uprobe_events listing line
// such as "p:kpcap_12/e0 do_sys_openat2 ..." or "r16:kpcap_12/e1 vfs_read".
func probeGroupEvent(line string) (group, event string, ok bool) {
	head, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	_, name, ok := strings.Cut(head, ":")
	if !ok {
		return "", "", false
	}
	group, event, ok = strings.Cut(name, "/")
	if !ok || group == "" || event == "" {
		return "", "", false
	}
	return group, event, true
}

// SweepStale removes the kprobe and uprobe events of groups kpcap_<pid> whose process is dead,
// left behind by a kpcap that crashed. It returns the removed events as "group:event".
func (fs *FS) SweepStale() (removed []string, err error) {
	var errs []error
	for _, file := range []string{"kprobe_events", "uprobe_events", "dynamic_events"} {
		f, oerr := os.Open(filepath.Join(fs.Dir, file))
		if oerr != nil {
			if !errors.Is(oerr, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("sweep stale probes: %w", oerr))
			}
			continue
		}
		var stale [][2]string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			g, e, ok := probeGroupEvent(sc.Text())
			if !ok {
				continue
			}
			if pid := stalePID(g); pid != 0 && pid != os.Getpid() && !alive(pid) {
				stale = append(stale, [2]string{g, e})
			}
		}
		if serr := sc.Err(); serr != nil {
			errs = append(errs, fmt.Errorf("sweep stale probes: read %s: %w", file, serr))
		}
		f.Close()
		for _, ge := range stale {
			rerr := fs.remove(file, ge[0], ge[1])
			if errors.Is(rerr, unix.EBUSY) {
				// Someone enabled it through tracefs; turn that off and retry once.
				if p, perr := fs.eventFile(ge[0], ge[1], "enable"); perr == nil {
					_ = os.WriteFile(p, []byte("0"), 0)
					rerr = fs.remove(file, ge[0], ge[1])
				}
			}
			if rerr != nil {
				errs = append(errs, rerr)
				continue
			}
			removed = append(removed, ge[0]+":"+ge[1])
		}
	}
	return removed, errors.Join(errs...)
}

func (fs *FS) readErrorLog() string {
	b, err := os.ReadFile(filepath.Join(fs.Dir, "error_log"))
	if err != nil {
		return ""
	}
	return string(b)
}

// ErrorLog returns the newest entry of tracing/error_log (the kernel's explanation of the last
// failed probe or filter command, with a caret under the bad token), or "" when empty.
func (fs *FS) ErrorLog() string { return lastEntry(fs.readErrorLog()) }

// lastEntry returns the last "[timestamp] ..." entry of error_log text, without trailing newline.
func lastEntry(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "[") {
			return strings.Join(lines[i:], "\n")
		}
	}
	return ""
}

// PMUType returns the perf_event_attr.type of a dynamic PMU ("kprobe", "uprobe"), from
// /sys/bus/event_source/devices/NAME/type. It differs between kernels: never hard-code it.
func PMUType(name string) (uint32, error) {
	if err := checkName("PMU", name); err != nil {
		return 0, err
	}
	p := filepath.Join(sysBus, name, "type")
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("this kernel has no %s PMU (%s missing: needs Linux 4.17+ with CONFIG_%s_EVENTS)",
				name, p, strings.ToUpper(name))
		}
		return 0, fmt.Errorf("read %s PMU type: %w", name, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", p, err)
	}
	return uint32(v), nil
}

// RetprobeBit returns the bit of perf_event_attr.config that makes a PMU probe a return probe,
// parsed from /sys/bus/event_source/devices/NAME/format/retprobe ("config:0" → 0).
func RetprobeBit(name string) (uint, error) {
	if err := checkName("PMU", name); err != nil {
		return 0, err
	}
	p := filepath.Join(sysBus, name, "format", "retprobe")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read %s retprobe format: %w", name, err)
	}
	return parseConfigBit(strings.TrimSpace(string(b)))
}

func parseConfigBit(s string) (uint, error) {
	v, ok := strings.CutPrefix(s, "config:")
	if !ok {
		return 0, fmt.Errorf("unexpected retprobe format %q (want config:N)", s)
	}
	n, err := strconv.ParseUint(v, 10, 6)
	if err != nil {
		return 0, fmt.Errorf("unexpected retprobe format %q (want config:N with N < 64)", s)
	}
	return uint(n), nil
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
