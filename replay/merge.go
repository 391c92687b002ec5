package replay

import (
	"sort"
)

// mergeStep is what happens to a decoded frame's rows on their way to
// batches, given the rows held back so far.
type mergeStep int

const (
	stepHold     mergeStep = iota // nothing is held: hold the frame's rows
	stepCoalesce                  // in order, and the held rows are few: hold them too (one batch)
	stepFlush                     // in order: the held rows become batches, then hold the frame's
	stepMerge                     // overlapping: merge with the held rows; batches once over reorderRows
)

// nextMergeStep is the one rule by which Reader.Next merges frames, and by
// which mergeOrder predicts it: heldRows rows are held, the latest at
// heldMax; the frame has rows rows from minTS on; in-order rows coalesce
// up to coalesce rows (see coalesceRows).
func nextMergeStep(heldRows int, heldMax, minTS uint64, rows, coalesce int) mergeStep {
	switch {
	case heldRows == 0:
		return stepHold
	case minTS >= heldMax && heldRows+rows <= coalesce && heldRows < coalesce/2:
		// Small frames (quiet captures) are coalesced into fuller batches.
		return stepCoalesce
	case minTS >= heldMax:
		return stepFlush
	default:
		return stepMerge
	}
}

// coalesceRows is how many rows small in-order chunks coalesce into: a
// batch, or none for a wide schema, whose chunks end small on purpose (a
// coalesced chunk gives every column any of its parts uses a buffer of all
// their rows).
func (r *Reader) coalesceRows() int {
	if r.wide {
		return 0
	}
	return r.opts.BatchSize
}

// sortChunk returns c's rows stably sorted by time.
func (r *Reader) sortChunk(c *chunk) *chunk {
	refs := make([]rowRef, c.n)
	for i := range refs {
		refs[i] = rowRef{0, int32(i)}
	}
	srcs := []*chunk{c}
	sort.SliceStable(refs, func(a, b int) bool { return c.ts[refs[a].row] < c.ts[refs[b].row] })
	out := r.take(srcs, refs)
	out.seq, out.err = c.seq, c.err
	c.release()
	return out
}

// mergeChunks merges two time-sorted chunks.
func (r *Reader) mergeChunks(a, b *chunk) *chunk {
	refs := make([]rowRef, 0, a.n+b.n)
	i, j := 0, 0
	for i < a.n || j < b.n {
		if j >= b.n || i < a.n && a.ts[i] <= b.ts[j] {
			refs = append(refs, rowRef{0, int32(i)})
			i++
		} else {
			refs = append(refs, rowRef{1, int32(j)})
			j++
		}
	}
	out := r.take([]*chunk{a, b}, refs)
	out.seq = b.seq
	a.release()
	b.release()
	return out
}

// hold adds c after the pending chunks (it starts no earlier than they end,
// or pending is empty).
func (r *Reader) hold(c *chunk) {
	r.pending = append(r.pending, c)
	r.pendN += c.n
	r.pendMax = max(r.pendMax, c.maxTS)
}

// collapse returns the pending chunks as one, copying each row once, and
// empties pending.
func (r *Reader) collapse() *chunk {
	out := r.pending[0]
	if len(r.pending) > 1 {
		out = r.concatChunks(r.pending)
	}
	clear(r.pending) // drop the references; the backing array is reused
	r.pending, r.pendN, r.pendMax = r.pending[:0], 0, 0
	return out
}

// concatChunks returns the rows of cs, in order, as one chunk (each starts
// no earlier than the one before ends) and releases them.
func (r *Reader) concatChunks(cs []*chunk) *chunk {
	n := 0
	for _, c := range cs {
		n += c.n
	}
	refs := make([]rowRef, 0, n)
	for ci, c := range cs {
		for i := 0; i < c.n; i++ {
			refs = append(refs, rowRef{int32(ci), int32(i)})
		}
	}
	out := r.take(cs, refs)
	out.seq = cs[len(cs)-1].seq
	for _, c := range cs {
		c.release()
	}
	return out
}

type rowRef struct {
	src int32
	row int32
}

// take builds a chunk from rows of srcs in the order of refs.
func (r *Reader) take(srcs []*chunk, refs []rowRef) *chunk {
	r.copiedRows.Add(int64(len(refs)))
	out := newChunk(len(r.cols), len(r.decs), len(refs))
	for _, s := range srcs {
		for k, v := range s.truncated {
			out.truncated[k] += v
		}
		out.unknownComm = out.unknownComm || s.unknownComm
	}
	// Each source's stacks are interned into out once, on first use, and
	// rows map through that table: hashing every row's stack cost more
	// than copying the rest of the row.
	remap := make([][]int64, len(srcs))
	for n, ref := range refs {
		s, i := srcs[ref.src], int(ref.row)
		out.ts[n], out.cpu[n], out.pid[n], out.tid[n] = s.ts[i], s.cpu[i], s.pid[i], s.tid[i]
		out.comm[n], out.probe[n], out.period[n] = s.comm[i], s.probe[i], s.period[i]
		out.stack[n] = -1
		if st := s.stack[i]; st >= 0 {
			m := remap[ref.src]
			if m == nil {
				m = make([]int64, len(s.stacks))
				for j := range m {
					m[j] = -1
				}
				remap[ref.src] = m
			}
			if m[st] < 0 {
				k := s.stacks[st]
				m[st] = out.internStack(k.pid, k.ips)
			}
			out.stack[n] = m[st]
		}
		for ci, b := range s.cols {
			if b == nil || b.valid[i>>3]&(1<<(i&7)) == 0 {
				continue
			}
			ob := out.cols[ci]
			if ob == nil {
				ob = newColBuf(b.width, out.cap, 0)
				out.cols[ci] = ob
				out.used++
			}
			if b.width > 0 {
				copy(ob.data[n*b.width:(n+1)*b.width], b.data[i*b.width:])
				ob.setValid(n)
			} else {
				ob.appendVar(n, b.data[b.offsets[i]:b.offsets[i+1]])
			}
		}
		if s.ts[i] < out.minTS {
			out.minTS = s.ts[i]
		}
		if s.ts[i] > out.maxTS {
			out.maxTS = s.ts[i]
		}
	}
	out.n = len(refs)
	return out
}

// reorderWindow bounds how many rows the merge of overlapping frames holds back.
const reorderWindow = 4 << 20

// reorderCells bounds the field cells (rows × field columns) the merge of
// overlapping frames holds back for a wide schema (see wideBatch): a merged
// chunk gives every column it touches a buffer of all its rows.
const reorderCells = 2 * maxChunkCells

// reorderRows is how many rows the merge holds back: reorderWindow, fewer
// for a wide schema, never fewer than a batch.
func (r *Reader) reorderRows() int {
	if !r.wide {
		return reorderWindow
	}
	return max(reorderCells/max(len(r.cols), 1), r.opts.BatchSize)
}

// frameSpan is the time range and count of the rows the Reader keeps from one frame.
type frameSpan struct {
	MinTS, MaxTS uint64
	Rows         int
}

// mergeOrder predicts how Next merges frames with the given spans (in frame
// order): first is the ts of the first row it returns, and ordered reports
// that rows come out sorted by (ts, frame, position in frame), i.e. that no
// frame falls behind the reorder window.
func (r *Reader) mergeOrder(spans []frameSpan) (first uint64, ordered bool) {
	ordered = true
	var p frameSpan
	var lastTS uint64
	emitted := false
	emit := func() {
		if !emitted {
			first = p.MinTS
		} else if p.MinTS < lastTS {
			ordered = false
		}
		emitted = true
		lastTS = max(lastTS, p.MaxTS)
		p = frameSpan{}
	}
	for _, c := range spans {
		if c.Rows == 0 {
			continue // Next skips empty frames
		}
		switch nextMergeStep(p.Rows, p.MaxTS, c.MinTS, c.Rows, r.coalesceRows()) {
		case stepHold:
			p = c
		case stepCoalesce:
			p.Rows += c.Rows
			p.MaxTS = max(p.MaxTS, c.MaxTS)
		case stepFlush:
			emit()
			p = c
		case stepMerge:
			p = frameSpan{MinTS: min(p.MinTS, c.MinTS), MaxTS: max(p.MaxTS, c.MaxTS), Rows: p.Rows + c.Rows}
			if p.Rows > r.reorderRows() {
				emit()
			}
		}
	}
	if p.Rows > 0 {
		emit()
	}
	return first, ordered
}
