package replay

import "github.com/kpcap/kpcap/replay/internal/eventfmt"

// maxBatchCells bounds the field cells (rows × field columns) of one
// batch. Arrow stores every column of a batch for every row, null or not,
// so a trace whose sources have thousands of distinct fields would cost
// rows × columns memory per batch: 64 Ki rows of 32 Ki columns is 2 Gi
// cells. Past this bound batches hold fewer rows; a trace of a few dozen
// columns never reaches it.
const maxBatchCells = 8 << 20

// minWideBatch is the fewest rows a batch holds however wide the schema.
const minWideBatch = 256

// maxChunkCells bounds the field cells a wide schema's chunk allocates:
// its rows × the columns they use. Rows of a wide schema's sources use few
// of its columns each, but a chunk gives every column one of its rows uses
// a buffer of all its rows; so a chunk of maxBatchCells/columns rows of a
// thousand sources costs the same as one whose every row uses every
// column, tens of MB, and a reader holds several.
const maxChunkCells = 1 << 20

// chunkFull reports whether a wide schema's chunk c holds all it may: a
// batch of rows, as many as its buffers hold, or at least minWideBatch rows
// that use maxChunkCells.
func (r *Reader) chunkFull(c *chunk) bool {
	return c.n == r.opts.BatchSize || c.n == c.cap || c.n >= minWideBatch && c.n*c.used >= maxChunkCells
}

// MaxColumns bounds the field columns of a schema. Every tracepoint of a
// 6.18 kernel (3323 events) has 13.8 Ki non-common fields in all, fewer
// distinct names (1.8 Ki), so a recording of all of them, with its probes,
// stays below. Sources that would add columns past it are skipped with a
// warning.
const MaxColumns = 32 << 10

// wideBatch returns whether a schema of ncols field columns is wide, and
// the batch size to use: batchSize, or fewer rows for a wide schema.
func wideBatch(ncols, batchSize int) (bool, int) {
	if ncols == 0 || ncols*batchSize <= maxBatchCells {
		return false, batchSize
	}
	return true, max(maxBatchCells/ncols, minWideBatch)
}

// nextChunk returns the next decoded chunk in frame order (a frame of a
// wide schema decodes into several), false when every frame is taken.
func (r *Reader) nextChunk() (*chunk, bool) {
	for {
		if r.frameCh != nil {
			if c, ok := <-r.frameCh; ok {
				r.ahead.Add(-1)
				return c, true
			}
			r.frameCh = nil
		}
		ch, ok := <-r.order
		if !ok {
			return nil, false
		}
		r.frameCh = ch
	}
}

// ownFields counts an event's non-common fields: the columns it may add.
func ownFields(ev *eventfmt.Event) int {
	n := 0
	for i := range ev.Fields {
		if !ev.Fields[i].Common {
			n++
		}
	}
	return n
}
