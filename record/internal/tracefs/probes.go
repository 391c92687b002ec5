//go:build linux

package tracefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

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
