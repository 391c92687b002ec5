//go:build linux

package record

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// ErrCgroupV1 explains a machine without the unified cgroup hierarchy.
var ErrCgroupV1 = errors.New("no cgroup v2 hierarchy is mounted (cgroup v1 only): recording by cgroup needs the unified hierarchy; boot with systemd.unified_cgroup_hierarchy=1, or mount one with: mount -t cgroup2 none /sys/fs/cgroup/unified")

// cgroupTarget is one --cgroup argument resolved to a cgroup v2 directory.
type cgroupTarget struct {
	arg  string // as given
	dir  string // absolute directory
	path string // relative to the cgroup2 mount ("/" for the root)
	id   uint64 // the kernel's cgroup id (the directory's inode number)
	fd   int    // the directory, open for PERF_FLAG_PID_CGROUP; -1 when closed
}

// cgroupState is what a capture restricted to cgroups keeps: its targets,
// and the cgroup of each thread of the recorded samples.
type cgroupState struct {
	mount   string
	targets []*cgroupTarget
	paths   map[uint64]string // cgroup id -> path, from the start-up walk and CGROUP records
	seen    map[uint64]bool   // ids of the recorded samples
	tids    map[uint32]uint64 // thread -> its cgroup as last written
	// perSample: the kernel accepted PERF_SAMPLE_CGROUP (Linux 5.7+).
	perSample bool
}

// cgroup2Mount returns where the unified hierarchy is mounted, preferring
// /sys/fs/cgroup (pure v2) over /sys/fs/cgroup/unified (hybrid).
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find the cgroup2 mount: %w", err)
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) >= 5 && len(qf) >= 1 && qf[0] == "cgroup2" && pf[3] == "/" {
			mounts = append(mounts, unescapeMount(pf[4]))
		}
	}
	if len(mounts) == 0 {
		return "", ErrCgroupV1
	}
	for _, want := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if slices.Contains(mounts, want) {
			return want, nil
		}
	}
	return mounts[0], nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unitSuffixes are the systemd unit types that own a cgroup.
var unitSuffixes = []string{".service", ".scope", ".slice", ".socket", ".mount", ".swap"}

// resolveCgroups turns Options.Cgroups into open cgroup directories. A
// cgroup inside another one given too is dropped: its events would be
// recorded twice (perf's cgroup mode includes descendants).
func resolveCgroups(args []string) (*cgroupState, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return nil, &OptionError{Option: "Cgroups", Err: err}
	}
	st := &cgroupState{mount: mount, paths: map[uint64]string{}, seen: map[uint64]bool{}, tids: map[uint32]uint64{}}
	for _, arg := range args {
		dir, err := resolveCgroup(mount, arg)
		if err != nil {
			st.close()
			return nil, &OptionError{Option: "Cgroups", Value: arg, Err: err}
		}
		rel, _ := filepath.Rel(mount, dir)
		rel = "/" + strings.TrimPrefix(filepath.ToSlash(rel), ".")
		rel = strings.ReplaceAll(rel, "//", "/")
		var sb unix.Stat_t
		if err := unix.Stat(dir, &sb); err != nil {
			st.close()
			return nil, &OptionError{Option: "Cgroups", Value: arg, Err: err}
		}
		st.targets = append(st.targets, &cgroupTarget{arg: arg, dir: dir, path: rel, id: sb.Ino, fd: -1})
	}
	// Drop duplicates and descendants of other targets.
	keep := st.targets[:0]
	for i, t := range st.targets {
		dup := false
		for j, u := range st.targets {
			if i != j && (within(t.dir, u.dir) && t.dir != u.dir || t.dir == u.dir && j < i) {
				dup = true
			}
		}
		if !dup {
			keep = append(keep, t)
		}
	}
	st.targets = keep
	for _, t := range st.targets {
		fd, err := unix.Open(t.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			st.close()
			return nil, &OptionError{Option: "Cgroups", Value: t.arg, Err: fmt.Errorf("open %s: %w", t.dir, err)}
		}
		t.fd = fd
		st.walk(t.dir)
	}
	return st, nil
}

// within reports whether dir is base or below it.
func within(dir, base string) bool {
	return dir == base || strings.HasPrefix(dir, strings.TrimSuffix(base, "/")+"/")
}

// resolveCgroup finds the cgroup directory an argument names: a directory
// (absolute, or relative to the cgroup2 mount), a systemd unit
// (nginx.service), or a container id (its processes' cgroup in /proc).
func resolveCgroup(mount, arg string) (string, error) {
	if arg == "" {
		return "", &UsageError{"empty argument"}
	}
	isDir := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.IsDir()
	}
	clean := filepath.Clean(arg)
	if filepath.IsAbs(clean) {
		if within(clean, mount) && isDir(clean) {
			return clean, nil
		}
		if p := filepath.Join(mount, clean); isDir(p) {
			return p, nil
		}
		if isDir(clean) {
			return "", &UsageError{"not in the cgroup v2 hierarchy mounted at " + mount}
		}
		return "", &UsageError{fmt.Sprintf("no such cgroup (neither %s nor %s exists)", clean, filepath.Join(mount, clean))}
	}
	if !strings.HasPrefix(clean, "..") {
		if p := filepath.Join(mount, clean); isDir(p) && p != mount {
			return p, nil
		}
	}
	if !strings.Contains(arg, "/") {
		for _, suf := range unitSuffixes {
			if strings.HasSuffix(arg, suf) {
				return findUnitCgroup(mount, arg)
			}
		}
		if isContainerID(arg) {
			return findContainerCgroup(mount, arg)
		}
	}
	return "", &UsageError{fmt.Sprintf("no such cgroup under %s (give a cgroup directory, a systemd unit such as nginx.service, or a container id)", mount)}
}

// findUnitCgroup looks for the directory named after a systemd unit.
func findUnitCgroup(mount, unit string) (string, error) {
	var found []string
	filepath.WalkDir(mount, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == unit {
			found = append(found, p)
			return fs.SkipDir
		}
		return nil
	})
	switch len(found) {
	case 0:
		return "", &UsageError{fmt.Sprintf("no cgroup named after this unit under %s (is it running? systemctl status %s)", mount, unit)}
	case 1:
		return found[0], nil
	}
	return "", &UsageError{fmt.Sprintf("ambiguous, several cgroups are named so: %s (give the directory)", strings.Join(found, ", "))}
}

// isContainerID reports whether s looks like a (possibly abbreviated)
// container id: at least 12 hex digits.
func isContainerID(s string) bool {
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// findContainerCgroup finds the cgroup of a container from its processes:
// the first path component holding the id (docker-ID.scope, libpod-ID.scope,
// ID) in their /proc/PID/cgroup, cut there.
func findContainerCgroup(mount, id string) (string, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return "", err
	}
	found := map[string]bool{}
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), "0::")
			if !ok || !strings.Contains(rest, id) {
				continue
			}
			parts := strings.Split(rest, "/")
			for i, part := range parts {
				if strings.Contains(part, id) {
					found[strings.Join(parts[:i+1], "/")] = true
					break
				}
			}
		}
	}
	var dirs []string
	for p := range found {
		dirs = append(dirs, filepath.Join(mount, p))
	}
	slices.Sort(dirs)
	switch len(dirs) {
	case 0:
		return "", &UsageError{"no process is in a cgroup named after this container id (is the container running? the id is in its processes' /proc/PID/cgroup)"}
	case 1:
		return dirs[0], nil
	}
	return "", &UsageError{fmt.Sprintf("ambiguous, it matches several cgroups: %s (give more of the id)", strings.Join(dirs, ", "))}
}

// walk learns the ids of the cgroups under dir (the directories' inode
// numbers), so samples name them even after they are removed.
func (st *cgroupState) walk(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		var sb unix.Stat_t
		if unix.Stat(p, &sb) == nil {
			rel, _ := filepath.Rel(st.mount, p)
			st.paths[sb.Ino] = "/" + strings.TrimPrefix(filepath.ToSlash(rel), ".")
		}
		return nil
	})
}

// close closes the cgroup directories.
func (st *cgroupState) close() {
	for _, t := range st.targets {
		if t.fd >= 0 {
			unix.Close(t.fd)
			t.fd = -1
		}
	}
}

// describe lists the targets for the file header.
func (st *cgroupState) describe() string {
	var ps []string
	for _, t := range st.targets {
		ps = append(ps, t.path)
	}
	return "cgroup " + strings.Join(ps, ", ")
}

// sample notes the cgroup of one recorded sample, writing a record when
// its thread is first seen or has moved.
func (st *cgroupState) sample(out sink, pid, tid uint32, t, id uint64) error {
	if last, ok := st.tids[tid]; ok && last == id {
		return nil
	}
	st.tids[tid] = id
	st.seen[id] = true
	return out.AddTaskCgroup(format.TaskCgroup{PID: pid, TID: tid, Time: t, ID: id})
}

// flush writes the paths of the cgroups the samples were in; ids created
// after the start and not announced by a CGROUP record are looked up again.
// The next file of a rotated set records its threads afresh.
func (st *cgroupState) flush(out sink) error {
	defer func() { st.seen, st.tids = map[uint64]bool{}, map[uint32]uint64{} }()
	missing := false
	for id := range st.seen {
		if _, ok := st.paths[id]; !ok {
			missing = true
		}
	}
	if missing {
		st.walk(st.mount)
	}
	var cgs []format.Cgroup
	for id := range st.seen {
		if p, ok := st.paths[id]; ok {
			cgs = append(cgs, format.Cgroup{ID: id, Path: p})
		}
	}
	slices.SortFunc(cgs, func(a, b format.Cgroup) int { return strings.Compare(a.Path, b.Path) })
	if len(cgs) == 0 {
		return nil
	}
	return out.AddCgroups(cgs)
}

// openSource opens one source's event on cpu: for task pid (-1: every
// task), or in cgroup mode once per --cgroup directory.
func (c *capture) openSource(a *perf.Attr, pid, cpu int) ([]int, error) {
	if c.cg == nil {
		fd, err := perf.Open(a, pid, cpu)
		if err != nil {
			return nil, err
		}
		return []int{fd}, nil
	}
	a.SampleCgroup = c.cg.perSample
	fds := make([]int, 0, len(c.cg.targets))
	for _, t := range c.cg.targets {
		fd, err := perf.OpenCgroup(a, t.fd, cpu)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("cgroup %s: %w", t.path, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// probeCgroupSampling reports whether the kernel records each sample's
// cgroup (PERF_SAMPLE_CGROUP and CGROUP records, Linux 5.7+).
func probeCgroupSampling(cpu int) bool {
	a := perf.Attr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_DUMMY, Disabled: true, SampleCgroup: true, CgroupRecords: true}
	fd, err := perf.Open(&a, -1, cpu)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}
