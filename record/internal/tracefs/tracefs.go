//go:build linux

// Package tracefs finds (and if needed mounts) the kernel's tracefs and manages what kpcap
// keeps there: tracepoint ids and formats, and the dynamic kprobe/uprobe events kpcap creates
// in groups of its own (kpcap_<pid>), which it sweeps when their process is gone.
package tracefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	defaultDir  = "/sys/kernel/tracing"
	debugfsDir  = "/sys/kernel/debug/tracing"
	groupPrefix = "kpcap_"
)

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

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
