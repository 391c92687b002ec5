package format

// The metadata a Writer writes: the header frame, and the comm, loss,
// symbol, cgroup and note blocks, set end and statistics added as the
// recording goes.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// headerFrame renders the first frame: SHB, IDBs and the header custom blocks.
func (w *Writer) headerFrame(h *Header) ([]byte, error) {
	appl := h.Application
	if appl == "" {
		appl = "kpcap"
	}
	osName := h.Host.OS
	if osName == "linux" {
		osName = "Linux"
	}
	shbOS := strings.TrimSpace(osName + " " + h.Host.Kernel)
	frame := appendSHB(nil, h.Host.Machine, shbOS, appl)
	var tsoff uint64
	if h.Host.WallOffsetNS > 0 {
		// Wireshark then shows wall-clock times (to the second's precision
		// of if_tsoffset); kpcap readers use EPB times as they are.
		tsoff = uint64(h.Host.WallOffsetNS / 1e9)
	}
	for i := range h.Sources {
		frame = appendIDB(frame, &h.Sources[i], tsoff)
	}
	var v [8]byte
	le.PutUint32(v[0:], w.version[0])
	le.PutUint32(v[4:], w.version[1])
	frame = appendCustom(frame, kindVersion, v[:])
	host, err := json.Marshal(&h.Host)
	if err != nil {
		return nil, fmt.Errorf("format: encode host: %w", err)
	}
	frame = appendCustom(frame, kindHost, host)
	capt, err := json.Marshal(&h.Capture)
	if err != nil {
		return nil, fmt.Errorf("format: encode capture options: %w", err)
	}
	frame = appendCustom(frame, kindCapture, capt)
	if h.Set != nil {
		set := *h.Set
		set.EndNS, set.Samples, set.Lost, set.Final = 0, 0, 0, false
		w.set = &set
		b, err := json.Marshal(&set)
		if err != nil {
			return nil, fmt.Errorf("format: encode set: %w", err)
		}
		frame = appendCustom(frame, kindSet, b)
	}
	srcs := make([]sourceJSON, len(h.Sources))
	for i, s := range h.Sources {
		srcs[i] = sourceJSON{Name: s.Name, Kind: s.Kind.String(), Definition: s.Definition,
			Filter: s.Filter, Target: s.Target, Format: s.Format, Created: s.Created, Fields: s.Fields, Path: s.Path}
	}
	w.meta = frame
	if err := appendJSONBlocks(w, kindSources, srcs); err != nil {
		return nil, err
	}
	if err := appendJSONBlocks(w, kindNotes, h.Notes); err != nil {
		return nil, err
	}
	frame, w.meta = w.meta, nil
	if len(frame) > MaxFrameRaw {
		return nil, fmt.Errorf("format: header of %d bytes is too large", len(frame))
	}
	return frame, nil
}

// sourceJSON is the kindSources payload entry.
type sourceJSON struct {
	Name       string      `json:"name"`
	Kind       string      `json:"kind"`
	Definition string      `json:"definition"`
	Filter     string      `json:"filter,omitempty"`
	Target     string      `json:"target,omitempty"`
	Format     string      `json:"format,omitempty"`
	Created    string      `json:"created,omitempty"`
	Fields     []FieldType `json:"fields,omitempty"`
	Path       string      `json:"path,omitempty"`
}

// appendJSONBlocks appends items to w.meta as JSON arrays of the given kind,
// split so that no block's payload much exceeds metaChunkBytes.
func appendJSONBlocks[T any](w *Writer, kind uint32, items []T) error {
	if len(items) == 0 {
		return nil
	}
	buf := []byte{'['}
	emit := func() {
		buf = append(buf, ']')
		w.meta = appendCustom(w.meta, kind, buf)
		buf = buf[:1]
	}
	for i := range items {
		b, err := json.Marshal(&items[i])
		if err != nil {
			return fmt.Errorf("format: encode metadata: %w", err)
		}
		if len(b) > maxMetaEntry {
			return fmt.Errorf("format: metadata entry of %d bytes exceeds %d", len(b), maxMetaEntry)
		}
		if len(buf) > 1 && len(buf)+len(b) > metaChunkBytes {
			emit()
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
	}
	if len(buf) > 1 {
		emit()
	}
	return nil
}

// metaAdded notes new pending metadata and closes the frame when enough piled up.
func (w *Writer) metaAdded() error {
	if w.frameStart.IsZero() {
		w.frameStart = time.Now()
	}
	if len(w.meta) >= w.frameBytes || len(w.comms)+len(w.lost)+len(w.notes)+len(w.tcgs) >= maxQueued {
		return w.closeFrame()
	}
	return nil
}

// AddComm queues a pid→comm record; it goes into the current frame's metadata.
func (w *Writer) AddComm(c Comm) error {
	if w.closed {
		return errClosed
	}
	w.comms = append(w.comms, c)
	return w.metaAdded()
}

// AddLost queues a loss record. Close adds the lost counts of sources without
// caller-provided Stats to their ISBs.
func (w *Writer) AddLost(l Lost) error {
	if w.closed {
		return errClosed
	}
	w.lost = append(w.lost, l)
	w.lostBySrc[l.Source] += l.Count
	w.lostAll += l.Count
	return w.metaAdded()
}

// AddSymbols adds kernel symbols (any order; readers sort them).
func (w *Writer) AddSymbols(s []Symbol) error {
	if w.closed {
		return errClosed
	}
	if err := appendJSONBlocks(w, kindSymbols, s); err != nil {
		return err
	}
	return w.metaAdded()
}

// AddUserFrames adds resolved user-space addresses.
func (w *Writer) AddUserFrames(u []UserFrame) error {
	if w.closed {
		return errClosed
	}
	if err := appendJSONBlocks(w, kindUserFrames, u); err != nil {
		return err
	}
	return w.metaAdded()
}

// AddCgroups adds cgroup id → path records (any order; a later record of
// an id replaces an earlier one).
func (w *Writer) AddCgroups(c []Cgroup) error {
	if w.closed {
		return errClosed
	}
	if err := appendJSONBlocks(w, kindCgroups, c); err != nil {
		return err
	}
	return w.metaAdded()
}

// AddTaskCgroup queues a record that a thread is in a cgroup from a time on.
func (w *Writer) AddTaskCgroup(t TaskCgroup) error {
	if w.closed {
		return errClosed
	}
	w.tcgs = append(w.tcgs, t)
	return w.metaAdded()
}

// AddNote adds a free-text note shown by `kpcap info`.
func (w *Writer) AddNote(note string) error {
	if w.closed {
		return errClosed
	}
	w.notes = append(w.notes, note)
	return w.metaAdded()
}

// SetEnd sets the end of the file's span, stored at Close in the set block
// (a file of a set covers up to the time the next one starts). Without it,
// the span ends just after the last sample: spans are [start, end).
func (w *Writer) SetEnd(endNS uint64) { w.setEnd = endNS }

// appendSetEnd appends the set block again, completed with the span's end,
// the samples written and every sample reported lost in the file.
func (w *Writer) appendSetEnd() error {
	s := w.set
	s.Final = true
	s.Lost = w.lostAll
	s.Samples = 0
	s.EndNS = w.setEnd
	for _, c := range w.counts {
		s.Samples += c.n
		if w.setEnd == 0 && c.n > 0 {
			s.EndNS = max(s.EndNS, c.last+1)
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("format: encode set: %w", err)
	}
	w.meta = appendCustom(w.meta, kindSet, b)
	return nil
}

func (w *Writer) appendISBs(stats []Stats) {
	final := make([]Stats, w.nsrc)
	have := make([]bool, w.nsrc)
	for _, s := range stats {
		if s.Source < w.nsrc {
			final[s.Source] = s
			have[s.Source] = true
		}
	}
	for i := range final {
		c := w.counts[i]
		st := &final[i]
		st.Source = uint32(i)
		if !have[i] {
			st.Received = c.n
			st.Dropped = w.lostBySrc[uint32(i)]
		}
		if st.StartNS == 0 && st.EndNS == 0 && c.n > 0 {
			st.StartNS, st.EndNS = c.first, c.last
		}
		w.meta = appendISB(w.meta, st)
	}
}

// JoinSet makes a file written without a set the first of one: the set
// block is written at Close only (a recording that starts rotating on
// request, its file renamed to the set's first name). It does nothing when
// the header already placed the file in a set.
func (w *Writer) JoinSet(s SetInfo) {
	if w.set == nil {
		w.set = &s
	}
}
