//go:build linux

package record

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kpcap/kpcap/format"
)

// triggers evaluates Options.Triggers on the samples as they are written.
type triggers struct {
	match []func(*format.Sample) bool // per source: nil, or the filter triggers of that source (or-ed)
	text  [][]string
	// latency triggers: entry/return sources of the target and per tid
	// the entry times still open (a stack: recursion)
	entry, ret []int // per source: index into lat, -1 if none
	lat        []latTrigger
}

type latTrigger struct {
	text  string
	limit uint64
	open  map[uint32][]uint64
}

// setupTriggers compiles the triggers against the resolved sources.
func (c *capture) setupTriggers() error {
	o := c.opts
	if len(o.Triggers) == 0 {
		return nil
	}
	t := &triggers{match: make([]func(*format.Sample) bool, len(c.sources)), text: make([][]string, len(c.sources)),
		entry: make([]int, len(c.sources)), ret: make([]int, len(c.sources))}
	for i := range t.entry {
		t.entry[i], t.ret[i] = -1, -1
	}
	for _, tr := range o.Triggers {
		if tr.Latency > 0 {
			k := len(t.lat)
			t.lat = append(t.lat, latTrigger{text: tr.Text, limit: uint64(tr.Latency), open: map[uint32][]uint64{}})
			var ne, nr int
			for i, s := range c.sources {
				if !pairsWith(s.desc, tr.Target) {
					continue
				}
				if s.desc.Kind.IsReturn() || isSysExit(s.desc.Name) {
					t.ret[i] = k
					nr++
				} else {
					t.entry[i] = k
					ne++
				}
			}
			if ne == 0 || nr == 0 {
				return optionUsage("Triggers", strconv.Quote(tr.Text), "record the entry and the return of %s (a kprobe and kretprobe, uprobe and uretprobe, or syscalls:sys_enter_X and sys_exit_X)", tr.Target)
			}
			continue
		}
		found := false
		for i, s := range c.sources {
			if s.desc.Name != tr.Source {
				continue
			}
			found = true
			m, err := tr.Compile(s.desc)
			if err != nil {
				return optionUsage("Triggers", strconv.Quote(tr.Text), "%v", err)
			}
			if prev := t.match[i]; prev != nil {
				t.match[i] = func(s *format.Sample) bool { return prev(s) || m(s) }
			} else {
				t.match[i] = m
			}
			t.text[i] = append(t.text[i], tr.Text)
		}
		if !found {
			return optionUsage("Triggers", strconv.Quote(tr.Text), "%s is not among the recorded sources", tr.Source)
		}
	}
	c.trig = t
	return nil
}

// pairsWith reports whether a source is the entry or return of target: a
// probe's Target, or a syscall's sys_enter_/sys_exit_ tracepoint.
func pairsWith(s format.Source, target string) bool {
	if s.Target == target {
		return true
	}
	if _, ev, ok := cutGroup(s.Name); ok {
		return ev == "sys_enter_"+target || ev == "sys_exit_"+target
	}
	return false
}

func cutGroup(name string) (group, event string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == ':' {
			return name[:i], name[i+1:], true
		}
	}
	return "", name, false
}

func isSysExit(name string) bool {
	_, ev, _ := cutGroup(name)
	return len(ev) > 9 && ev[:9] == "sys_exit_"
}

// see checks one written sample against the triggers.
func (t *triggers) see(c *capture, s *format.Sample) {
	src := s.Source
	if m := t.match[src]; m != nil && m(s) {
		c.requestSnapshot(fmt.Sprintf("%s (event: pid %d tid %d cpu %d at %.9f s)", t.text[src][0], s.PID, s.TID, s.CPU, float64(s.Time)/1e9), c.opts.After)
	}
	if k := t.entry[src]; k >= 0 {
		l := &t.lat[k]
		st := l.open[s.TID]
		if len(l.open) > 1<<16 {
			clear(l.open) // threads that exited inside the function: forget them
		}
		if len(st) < 64 {
			l.open[s.TID] = append(st, s.Time)
		}
	}
	if k := t.ret[src]; k >= 0 {
		l := &t.lat[k]
		st := l.open[s.TID]
		if n := len(st); n > 0 {
			d := s.Time - st[n-1]
			if n == 1 {
				delete(l.open, s.TID)
			} else {
				l.open[s.TID] = st[:n-1]
			}
			if s.Time >= st[n-1] && d > l.limit {
				c.requestSnapshot(fmt.Sprintf("%s (event: %s pid %d tid %d cpu %d took %v, returned at %.9f s)", l.text, c.sources[src].desc.Name, s.PID, s.TID, s.CPU, time.Duration(d), float64(s.Time)/1e9), c.opts.After)
			}
		}
	}
}
