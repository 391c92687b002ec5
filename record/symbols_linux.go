//go:build linux

package record

import (
	"bufio"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/elfsym"
	"github.com/kpcap/kpcap/record/internal/perf"
)

// symbolizer collects what the callchains of a trace need to be symbolized
// offline: the kernel ips seen (resolved from /proc/kallsyms at the end)
// and user ips, resolved at first sight while the process is still alive.
type symbolizer struct {
	kernel  map[uint64]struct{}
	user    map[userKey]format.UserFrame // resolved at first sight, kept for each new file of a set
	procs   map[uint32]*procMaps
	objects map[string]*elfsym.Table // nil value: unreadable object
	pending []format.UserFrame

	// cacheKallsyms keeps the parsed kallsyms for the next file of a set.
	cacheKallsyms bool
	kallsyms      []format.Symbol
}

type userKey struct {
	pid  uint32
	addr uint64
}

type mapping struct {
	start, end, pgoff uint64
	path              string
}

type procMaps struct {
	maps   []mapping
	loaded time.Time
	gone   bool
	// fromRecords: the mappings come from MMAP records (the process was
	// exec'd or forked during the capture), so /proc is only a fallback.
	fromRecords bool
}

// mmap records an executable mapping reported by the kernel.
func (s *symbolizer) mmap(pid uint32, addr, length, pgoff uint64, path []byte) {
	pm := s.procs[pid]
	if pm == nil {
		pm = &procMaps{fromRecords: true}
		s.procs[pid] = pm
	}
	end := addr + length
	kept := pm.maps[:0]
	for _, m := range pm.maps { // a new mapping replaces what it overlaps
		if m.end <= addr || m.start >= end {
			kept = append(kept, m)
		}
	}
	pm.maps = append(kept, mapping{start: addr, end: end, pgoff: pgoff, path: string(path)})
}

// exec forgets the mappings of a process that exec'd.
func (s *symbolizer) exec(pid uint32) {
	s.procs[pid] = &procMaps{fromRecords: true, loaded: time.Now()}
	for k := range s.user {
		if k.pid == pid {
			delete(s.user, k) // same addresses mean other code now
		}
	}
}

// exit forgets a process that ended (its frames are already resolved).
func (s *symbolizer) exit(pid uint32) { delete(s.procs, pid) }

// fork gives a new process a copy of its parent's mappings.
func (s *symbolizer) fork(pid, ppid uint32) {
	if parent := s.procs[ppid]; parent != nil {
		s.procs[pid] = &procMaps{maps: append([]mapping(nil), parent.maps...), fromRecords: true, loaded: parent.loaded}
	}
}

func newSymbolizer() *symbolizer {
	return &symbolizer{
		kernel:  map[uint64]struct{}{},
		user:    map[userKey]format.UserFrame{},
		procs:   map[uint32]*procMaps{},
		objects: map[string]*elfsym.Table{},
	}
}

// see notes the ips of one callchain; allocation happens only for new ips.
func (s *symbolizer) see(pid uint32, chain []uint64) {
	kernel := true
	for _, ip := range chain {
		if ip >= perf.ContextMax {
			switch ip {
			case perf.ContextKernel:
				kernel = true
			case perf.ContextUser:
				kernel = false
			}
			continue
		}
		if kernel {
			if _, ok := s.kernel[ip]; !ok {
				s.kernel[ip] = struct{}{}
			}
			continue
		}
		k := userKey{pid, ip}
		if _, ok := s.user[k]; ok {
			continue
		}
		f := s.resolve(pid, ip)
		s.user[k] = f
		s.pending = append(s.pending, f)
	}
}

// resolve symbolizes one user address through /proc/PID/maps and the ELF
// symbols of the mapped object.
func (s *symbolizer) resolve(pid uint32, ip uint64) format.UserFrame {
	f := format.UserFrame{PID: pid, Addr: ip}
	pm := s.procs[pid]
	if pm == nil {
		pm = &procMaps{}
		s.procs[pid] = pm
		pm.load(pid)
	}
	m := pm.find(ip)
	if m == nil && !pm.gone && !pm.fromRecords && time.Since(pm.loaded) > 10*time.Millisecond {
		pm.load(pid) // a mapping made after we first looked
		m = pm.find(ip)
	}
	if m == nil {
		return f
	}
	f.Object = m.path
	if !strings.HasPrefix(m.path, "/") {
		return f // [vdso], [heap], anonymous JIT code
	}
	t, ok := s.objects[m.path]
	if !ok {
		path := m.path
		if !pm.gone {
			// through the process's root: right file even in containers or after replacement
			if p := "/proc/" + strconv.FormatUint(uint64(pid), 10) + "/map_files/" + strconv.FormatUint(m.start, 16) + "-" + strconv.FormatUint(m.end, 16); fileExists(p) {
				path = p
			}
		}
		t, _ = elfsym.Load(path)
		s.objects[m.path] = t
	}
	if t == nil {
		return f
	}
	if name, off, ok := t.Lookup(ip - m.start + m.pgoff); ok {
		f.Name, f.Offset = name, off
	}
	return f
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (pm *procMaps) load(pid uint32) {
	pm.loaded = time.Now()
	f, err := os.Open("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/maps")
	if err != nil {
		pm.gone = true
		return
	}
	defer f.Close()
	pm.maps = pm.maps[:0]
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 55d0c8a00000-55d0c8a28000 r-xp 00028000 08:01 1234   /usr/bin/x
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || !strings.Contains(fields[1], "x") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		path := ""
		if len(fields) >= 6 {
			path = strings.Join(fields[5:], " ")
		}
		pm.maps = append(pm.maps, mapping{start: start, end: end, pgoff: off, path: path})
	}
}

func (pm *procMaps) find(ip uint64) *mapping {
	for i := range pm.maps {
		if m := &pm.maps[i]; ip >= m.start && ip < m.end {
			return m
		}
	}
	return nil
}

// flushUser writes the user frames resolved since the last call.
func (s *symbolizer) flushUser(w sink) error {
	if s == nil || len(s.pending) == 0 {
		return nil
	}
	err := w.AddUserFrames(s.pending)
	s.pending = s.pending[:0]
	return err
}

// allUser returns every user frame resolved so far: a new file of a set
// starts with them, so that it symbolizes on its own.
func (s *symbolizer) allUser() []format.UserFrame {
	if s == nil {
		return nil
	}
	out := make([]format.UserFrame, 0, len(s.user))
	for _, f := range s.user {
		out = append(out, f)
	}
	return out
}

// kernelSymbols returns the kallsyms entries containing the kernel ips seen,
// with their neighbours (which bound their size). With cache, kallsyms is
// read once per recording (rotated files each need their symbols).
func (s *symbolizer) kernelSymbols() []format.Symbol {
	if len(s.kernel) == 0 {
		return nil
	}
	all := s.kallsyms
	if all == nil {
		all = readKallsyms("/proc/kallsyms")
		if s.cacheKallsyms {
			s.kallsyms = all
		}
	}
	if len(all) == 0 {
		return nil
	}
	keep := map[int]bool{}
	for ip := range s.kernel {
		i := sort.Search(len(all), func(i int) bool { return all[i].Addr > ip }) - 1
		if i < 0 {
			continue
		}
		for j := max(i-1, 0); j <= min(i+1, len(all)-1); j++ {
			keep[j] = true
		}
	}
	out := make([]format.Symbol, 0, len(keep))
	for i := range all {
		if keep[i] {
			sym := all[i]
			if i+1 < len(all) && all[i+1].Addr > sym.Addr {
				sym.Size = all[i+1].Addr - sym.Addr
			}
			out = append(out, sym)
		}
	}
	return out
}

// readKallsyms returns the text symbols of a kallsyms file sorted by
// address; nothing when addresses are hidden (kptr_restrict).
func readKallsyms(path string) []format.Symbol {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []format.Symbol
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// ffffffff81000000 T _stext [module]
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 3 {
			continue
		}
		switch fields[1] {
		case "t", "T", "w", "W":
		default:
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil || addr == 0 {
			continue
		}
		sym := format.Symbol{Addr: addr, Name: fields[2]}
		if len(fields) >= 4 {
			sym.Module = strings.Trim(fields[3], "[]")
		}
		out = append(out, sym)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}
