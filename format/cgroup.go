package format

import (
	"sort"
	"strconv"
)

// cgroupLookup is the index behind CgroupOf, built on first use.
type cgroupLookup struct {
	byTID map[uint32][]TaskCgroup // sorted by Time
	paths map[uint64]string
}

func (f *File) buildCgroups() {
	f.cgOnce.Do(func() {
		l := &f.cg
		l.byTID = map[uint32][]TaskCgroup{}
		l.paths = make(map[uint64]string, len(f.Cgroups))
		for _, c := range f.Cgroups {
			l.paths[c.ID] = c.Path
		}
		for _, t := range f.TaskCgroups {
			l.byTID[t.TID] = append(l.byTID[t.TID], t)
		}
		for _, ts := range l.byTID {
			sort.SliceStable(ts, func(i, j int) bool { return ts[i].Time < ts[j].Time })
		}
	})
}

// HasCgroups reports whether the file says which cgroup each thread was in.
func (f *File) HasCgroups() bool { return len(f.TaskCgroups) > 0 }

// CgroupOf returns the cgroup path of thread tid at time t: its last record
// at or before t, else its first one. A cgroup whose path the file does not
// hold is named "cgroup:ID"; ok is false when the thread has no record.
func (f *File) CgroupOf(tid uint32, t uint64) (path string, ok bool) {
	f.buildCgroups()
	ts := f.cg.byTID[tid]
	if len(ts) == 0 {
		return "", false
	}
	i := sort.Search(len(ts), func(i int) bool { return ts[i].Time > t })
	if i > 0 {
		i--
	}
	id := ts[i].ID
	if p, ok := f.cg.paths[id]; ok {
		return p, true
	}
	return "cgroup:" + strconv.FormatUint(id, 10), true
}
