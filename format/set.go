package format

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Part describes one file of a trace opened with OpenSet.
type Part struct {
	Path    string
	Set     *SetInfo // the file's set block, nil if it has none
	Samples uint64   // samples in the file (its statistics)
	Lost    uint64   // samples lost in its span: its loss records
	StartNS uint64   // the file's span (the set block's, else its samples')
	EndNS   uint64
	Size    int64
}

// Gap is a stretch of time a set of files does not cover: files of a set
// missing from the list (deleted by retention), or a pause between files.
type Gap struct {
	StartNS, EndNS uint64
	// Missing lists the sequence numbers of the set's files not read.
	Missing []int
	// After is the path of the file the gap follows.
	After string
}

// ExpandPaths turns command-line arguments into trace file paths: a
// directory stands for its *.zst files, a pattern with * ? or [ for its
// matches (quoted, so that the shell left it alone), anything else for
// itself. Each argument must name at least one file.
func ExpandPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(a, "*.zst"))
			if len(m) == 0 {
				return nil, fmt.Errorf("%s: a directory without trace files (*.zst)", a)
			}
			slices.Sort(m)
			out = append(out, m...)
			continue
		}
		if strings.ContainsAny(a, "*?[") {
			if _, err := os.Stat(a); err != nil { // not a file with such a name
				m, gerr := filepath.Glob(a)
				if gerr != nil {
					return nil, fmt.Errorf("%s: bad pattern: %v", a, gerr)
				}
				if len(m) == 0 {
					return nil, fmt.Errorf("%s: no file matches", a)
				}
				slices.Sort(m)
				out = append(out, m...)
				continue
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// OpenSet opens several trace files as one trace: the files of a rotated
// recording (in any order: they are sorted by sequence number), or any
// traces of one host (sorted by start time; the capture clock is the
// host's CLOCK_MONOTONIC, so their times compare while it does not
// reboot). Frames are read in time order across the files; sources are
// matched by name and definition (samples are renumbered to the union);
// statistics, losses, comms and symbols are combined. Parts lists the
// files, Gaps what they do not cover. One path is Open with Parts filled.
func OpenSet(paths []string) (*File, error) {
	if len(paths) == 0 {
		return nil, errors.New("no trace file given")
	}
	parts := make([]*File, 0, len(paths))
	closeAll := func() {
		for _, p := range parts {
			p.Close()
		}
	}
	seen := map[string]bool{}
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			if seen[abs] {
				continue // a file named twice (a glob and its name) is read once
			}
			seen[abs] = true
		}
		f, err := Open(p)
		if err != nil {
			closeAll()
			return nil, err
		}
		f.path = p
		parts = append(parts, f)
	}
	if len(parts) == 1 {
		f := parts[0]
		f.Parts = []Part{partOf(f)}
		f.Gaps = setGaps(f.Parts)
		f.warnGaps()
		return f, nil
	}
	slices.SortStableFunc(parts, func(a, b *File) int {
		sa, sb := a.Header.Set, b.Header.Set
		if sa != nil && sb != nil && sa.ID == sb.ID {
			return cmp.Compare(sa.Seq, sb.Seq)
		}
		return cmp.Compare(fileStart(a), fileStart(b))
	})
	return mergeParts(parts), nil
}

// fileStart is when a file's span begins.
func fileStart(f *File) uint64 {
	if f.Header.Set != nil && f.Header.Set.StartNS != 0 {
		return f.Header.Set.StartNS
	}
	start := ^uint64(0)
	for _, fi := range f.Frames {
		start = min(start, fi.FirstNS)
	}
	return start
}

func partOf(f *File) Part {
	p := Part{Path: f.path, Set: f.Header.Set, Size: f.Size}
	for _, st := range f.Stats {
		p.Samples += st.Received
	}
	for _, l := range f.Lost {
		p.Lost += l.Count
	}
	p.StartNS, p.EndNS = ^uint64(0), 0
	for _, fi := range f.Frames {
		p.StartNS, p.EndNS = min(p.StartNS, fi.FirstNS), max(p.EndNS, fi.LastNS)
	}
	if s := f.Header.Set; s != nil {
		p.StartNS = s.StartNS
		if s.EndNS != 0 {
			p.EndNS = s.EndNS
		}
	}
	if p.StartNS == ^uint64(0) {
		p.StartNS = 0
	}
	return p
}

// setGaps finds the files of a set missing between the parts, and the
// time between consecutive parts of a set that no file covers.
func setGaps(parts []Part) []Gap {
	var gaps []Gap
	prev := map[string]Part{} // the previous part of each set
	for _, b := range parts {
		if b.Set == nil {
			continue
		}
		a, ok := prev[b.Set.ID]
		prev[b.Set.ID] = b
		if !ok {
			if b.Set.Seq > 1 {
				g := Gap{EndNS: b.StartNS}
				for s := 1; s < b.Set.Seq && len(g.Missing) < 1<<16; s++ {
					g.Missing = append(g.Missing, s)
				}
				gaps = append(gaps, g)
			}
			continue
		}
		g := Gap{StartNS: a.EndNS, EndNS: b.StartNS, After: a.Path}
		for s := a.Set.Seq + 1; s < b.Set.Seq && len(g.Missing) < 1<<16; s++ {
			g.Missing = append(g.Missing, s)
		}
		if len(g.Missing) > 0 || b.StartNS > a.EndNS {
			gaps = append(gaps, g)
		}
	}
	return gaps
}

// sourceKey identifies a source across files.
func sourceKey(s *Source) string {
	return s.Name + "\x00" + s.Definition + "\x00" + s.Filter + "\x00" + s.Format
}

// mergeParts combines opened files, sorted in time order, into one File.
func mergeParts(parts []*File) *File {
	f := &File{parts: parts, Indexed: true}
	f.Header = parts[0].Header
	f.Header.Set = nil
	f.Header.Notes = nil
	f.Header.Sources = nil
	m := partMerger{f: f, index: map[string]uint32{}, notes: map[string]bool{}, syms: map[Symbol]bool{},
		cgs: map[Cgroup]bool{}, ufs: map[userKey]bool{}, hosts: map[string]bool{}}
	f.remap = make([][]uint32, len(parts))
	for pi, p := range parts {
		f.Parts = append(f.Parts, partOf(p))
		m.hosts[p.Header.Host.Hostname+" "+p.Header.Host.Kernel] = true
		ids := m.sources(pi, p)
		m.stats(p, ids)
		m.metadata(p)
		name := filepath.Base(p.path)
		for _, w := range p.Warnings {
			f.Warnings = append(f.Warnings, name+": "+w)
		}
		f.Size += p.Size
		f.RawBytes += p.RawBytes
		f.MetaFrames += p.MetaFrames
		f.Indexed = f.Indexed && p.Indexed
	}
	slices.SortStableFunc(f.Symbols, func(a, b Symbol) int { return cmp.Compare(a.Addr, b.Addr) })
	if len(m.hosts) > 1 {
		f.Warnings = append(f.Warnings, fmt.Sprintf("the files come from %d different hosts or kernels: their times are not comparable", len(m.hosts)))
	}
	f.Gaps = setGaps(f.Parts)
	f.warnGaps()
	f.Frames = mergeFrames(parts)
	f.nsrc = len(f.Header.Sources)
	return f
}

// partMerger gathers the files of a set into f, each source, symbol,
// cgroup, user frame and note once.
type partMerger struct {
	f     *File
	index map[string]uint32 // sourceKey -> the set's source id
	notes map[string]bool
	syms  map[Symbol]bool
	cgs   map[Cgroup]bool
	ufs   map[userKey]bool
	hosts map[string]bool // "hostname kernel"
}

// sources adds part pi's new sources and returns the set's id of each of
// its sources; the part's remap is set unless the ids are its own.
func (m *partMerger) sources(pi int, p *File) []uint32 {
	f := m.f
	ids := make([]uint32, len(p.Header.Sources))
	identity := true
	for i := range p.Header.Sources {
		k := sourceKey(&p.Header.Sources[i])
		id, ok := m.index[k]
		if !ok {
			id = uint32(len(f.Header.Sources))
			m.index[k] = id
			f.Header.Sources = append(f.Header.Sources, p.Header.Sources[i])
			f.Stats = append(f.Stats, Stats{Source: id})
		}
		ids[i] = id
		identity = identity && id == uint32(i)
	}
	if !identity {
		f.remap[pi] = ids
	}
	return ids
}

// stats adds a part's statistics and loss records under the set's ids.
func (m *partMerger) stats(p *File, ids []uint32) {
	f := m.f
	for i, st := range p.Stats {
		if i >= len(ids) {
			break
		}
		g := &f.Stats[ids[i]]
		if st.Received > 0 || st.StartNS != 0 {
			if g.Received == 0 && g.StartNS == 0 || st.StartNS < g.StartNS {
				g.StartNS = st.StartNS
			}
			g.EndNS = max(g.EndNS, st.EndNS)
		}
		g.Received += st.Received
		g.Dropped += st.Dropped
	}
	for _, l := range p.Lost {
		if int(l.Source) < len(ids) {
			l.Source = ids[l.Source]
		}
		f.Lost = append(f.Lost, l)
	}
}

// metadata adds a part's comms, cgroups, symbols, user frames and notes.
func (m *partMerger) metadata(p *File) {
	f := m.f
	f.Comms = append(f.Comms, p.Comms...)
	f.TaskCgroups = append(f.TaskCgroups, p.TaskCgroups...)
	for _, cg := range p.Cgroups {
		if !m.cgs[cg] {
			m.cgs[cg] = true
			f.Cgroups = append(f.Cgroups, cg)
		}
	}
	for _, s := range p.Symbols {
		if !m.syms[s] {
			m.syms[s] = true
			f.Symbols = append(f.Symbols, s)
		}
	}
	for _, u := range p.UserFrames {
		if k := (userKey{u.PID, u.Addr}); !m.ufs[k] {
			m.ufs[k] = true
			f.UserFrames = append(f.UserFrames, u)
		}
	}
	for _, n := range p.Header.Notes {
		if !m.notes[n] {
			m.notes[n] = true
			f.Header.Notes = append(f.Header.Notes, n)
		}
	}
}

// mergeFrames lists the parts' frames in time order: their frame lists
// merged by first sample time, keeping each file's own order.
func mergeFrames(parts []*File) []FrameInfo {
	var frames []FrameInfo
	pos := make([]int, len(parts))
	for {
		best := -1
		for pi, p := range parts {
			if pos[pi] < len(p.Frames) && (best < 0 || p.Frames[pos[pi]].FirstNS < parts[best].Frames[pos[best]].FirstNS) {
				best = pi
			}
		}
		if best < 0 {
			return frames
		}
		fi := parts[best].Frames[pos[best]]
		fi.Part = best
		frames = append(frames, fi)
		pos[best]++
	}
}

// renumber rewrites the interface ids of a decompressed frame's EPBs
// through m (a file's sources in the set's numbering).
func renumber(frame []byte, m []uint32) {
	for off := 0; off < len(frame); {
		b, next, err := nextBlock(frame, off)
		if err != nil {
			return // the caller's walk reports it
		}
		if b.typ == blockEPB && len(b.body) >= 4 {
			if id := le.Uint32(b.body); int(id) < len(m) {
				le.PutUint32(frame[off+8:], m[id])
			}
		}
		off = next
	}
}

// warnGaps states each gap as a warning, which every reader shows.
func (f *File) warnGaps() {
	for _, g := range f.Gaps {
		what := "no file covers"
		if n := len(g.Missing); n > 0 {
			what = fmt.Sprintf("file %d of the set is missing (deleted by rotation?):", g.Missing[0])
			if n > 1 {
				what = fmt.Sprintf("files %d-%d of the set are missing (deleted by rotation?):", g.Missing[0], g.Missing[n-1])
			}
		}
		if g.StartNS == 0 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s nothing before %.9f s is in the trace", what, float64(g.EndNS)/1e9))
			continue
		}
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s nothing from %.9f to %.9f s is in the trace", what, float64(g.StartNS)/1e9, float64(g.EndNS)/1e9))
	}
}
