package replay

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/kpcap/kpcap/format"
)

// A wide schema's frames that overlap in time are decoded together, as one
// group: their samples, still raw, are merged in time order before they
// become columns. Held as decoded columns, overlapping rows would cost
// rows × columns (a batch of a wide schema is tens of MB); held raw, they
// cost what the file's frames hold. The groups' bounds keep that small.
const (
	// maxGroupRaw bounds the decompressed bytes of a group's frames: eight
	// frames of the writer's default size.
	maxGroupRaw = 16 << 20
	// maxGroupSamples bounds a group's samples (each held as a
	// format.Sample while the group is merged).
	maxGroupSamples = 256 << 10
)

// groupFrames splits frames (in file order) into the runs that decode
// together: for a narrow schema each frame alone; for a wide one, each
// frame with the frames after it that start before the latest of the run
// ends, within maxGroupRaw and maxGroupSamples. Frames past a bound start a
// run of their own, and rows they share times with come out through
// Next's reorder window, as rows of separate frames do.
func (r *Reader) groupFrames(frames []int) [][]int {
	groups := make([][]int, 0, len(frames))
	var (
		last          uint64
		raw, nsamples int64
	)
	for _, fi := range frames {
		info := r.f.Frames[fi]
		size := info.RawSize
		if size <= 0 {
			size = format.MaxFrameRaw // unknown: never grouped
		}
		n := int64(min(info.Samples, 1<<40))
		g := len(groups) - 1
		if r.wide && g >= 0 && info.Samples > 0 && info.FirstNS < last &&
			raw+size <= maxGroupRaw && nsamples+n <= maxGroupSamples {
			groups[g] = append(groups[g], fi)
			raw, nsamples = raw+size, nsamples+n
			last = max(last, info.LastNS)
			continue
		}
		groups = append(groups, []int{fi})
		raw, nsamples, last = size, n, info.LastNS
	}
	return groups
}

// groupSamples are the selected samples of a group's frames, in frame
// order, their payloads aliasing the frames' bytes. A decoder keeps one
// from group to group, so its storage is allocated once.
type groupSamples struct {
	samples []format.Sample
	sorted  bool
	last    uint64   // the latest time so far
	ips     []uint64 // the callchains' backing, filled block by block
	buf     []byte   // the first frame's bytes, reused
}

// callchain returns a copy of ips that stays valid for the group's life
// (the decoder reuses a sample's callchain storage).
func (g *groupSamples) callchain(ips []uint64) []uint64 {
	if len(ips) > cap(g.ips)-len(g.ips) {
		g.ips = make([]uint64, 0, max(64<<10, len(ips)))
	}
	start := len(g.ips)
	g.ips = append(g.ips, ips...)
	return g.ips[start:len(g.ips):len(g.ips)]
}

// add keeps a copy of s.
func (g *groupSamples) add(s *format.Sample) {
	cp := *s
	if len(s.Callchain) > 0 {
		cp.Callchain = g.callchain(s.Callchain)
	}
	g.sorted = g.sorted && s.Time >= g.last
	g.last = max(g.last, s.Time)
	g.samples = append(g.samples, cp)
}

// reset empties g, dropping its references to the frames' bytes.
func (g *groupSamples) reset() {
	clear(g.samples)
	g.samples, g.sorted, g.last = g.samples[:0], true, 0
	g.ips = nil
}

// decodeGroup decodes the frames of a group into chunks in time order and
// hands each to send as it is done (see decodeFrame). A damaged frame's
// error comes as a chunk of no rows of its own; the samples before the
// damage are kept.
func (r *Reader) decodeGroup(frames []int, g *groupSamples, send func(*chunk)) {
	d := newDecoder(r, nil)
	defer g.reset()
	for k, fi := range frames {
		if err := r.readGroupFrame(fi, k == 0, d, g); err != nil {
			c := newChunk(len(r.cols), len(r.decs), 0)
			c.err = fmt.Errorf("frame %d: %w", fi, err)
			r.ahead.Add(1)
			send(c)
		}
	}
	if !g.sorted {
		slices.SortStableFunc(g.samples, func(a, b format.Sample) int { return cmp.Compare(a.Time, b.Time) })
	}
	r.decodeSorted(d, g.samples, send)
}

// readGroupFrame reads frame fi, the group's first or a later one, into g:
// the samples d selects.
func (r *Reader) readGroupFrame(fi int, first bool, d *decoder, g *groupSamples) error {
	var dst []byte
	if first {
		dst = g.buf // the later frames' bytes stay referenced until the group is decoded
	}
	data, err := r.f.ReadFrame(fi, dst)
	r.bytesRead.Add(r.f.Frames[fi].CSize)
	if err != nil {
		return err
	}
	if first {
		g.buf = data
	}
	return format.ForEachSample(data, func(s *format.Sample) error {
		if d.selected(s) != nil {
			g.add(s)
		}
		return nil
	})
}

// decodeSorted decodes samples (selected, in time order) into chunks and
// hands each to send: a chunk ends at Options.BatchSize rows or once its
// rows × the columns they use reach maxChunkCells (see chunkFull). Each
// chunk's buffers are sized for a quarter more rows than the one before
// held, and a chunk ends when they are full: sized for a batch, most would
// stay empty, and growing copies every column.
func (r *Reader) decodeSorted(d *decoder, samples []format.Sample, send func(*chunk)) {
	rows := r.opts.BatchSize
	for len(samples) > 0 {
		c := newChunk(len(r.cols), len(r.decs), min(len(samples), rows))
		r.ahead.Add(1)
		d.reset(c)
		n := 0
		for ; n < len(samples) && !r.chunkFull(c); n++ {
			s := &samples[n]
			d.addSelected(s, r.decs[s.Source])
		}
		samples, rows = samples[n:], min(max(c.n+c.n/4, minWideBatch), r.opts.BatchSize)
		r.noteVarUse(c)
		c.finishRange()
		send(c)
	}
}
