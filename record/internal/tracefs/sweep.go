//go:build linux

package tracefs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

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
