package replay

import (
	"math/bits"
	"slices"
	"unsafe"
)

// colBuf accumulates one field column of a chunk in Arrow's memory layout, so
// that finishing a chunk wraps the buffers without copying. Rows never written
// stay null: buffers start zeroed and only written rows set their valid bit.
type colBuf struct {
	width   int     // bytes per value for fixed columns; 0 for variable
	data    []byte  // fixed: cap*width bytes; variable: concatenated values
	valid   []byte  // validity bitmap
	offsets []int32 // variable: cap+1 entries, valid up to offsets[filled]
	filled  int
}

func (c *colBuf) setValid(r int) { c.valid[r>>3] |= 1 << (r & 7) }

// appendVar writes value v at row r (> every row written before) of a
// variable-width column; rows skipped in between become empty nulls.
func (c *colBuf) appendVar(r int, v []byte) {
	end := int32(len(c.data))
	for j := c.filled + 1; j <= r; j++ {
		c.offsets[j] = end
	}
	c.data = append(c.data, v...)
	c.offsets[r+1] = int32(len(c.data))
	c.filled = r + 1
	c.valid[r>>3] |= 1 << (r & 7)
}

// finishVar completes the offsets of a variable-width column of n rows.
func (c *colBuf) finishVar(n int) {
	end := int32(len(c.data))
	for j := c.filled + 1; j <= n; j++ {
		c.offsets[j] = end
	}
	c.filled = n
}

// chunk is the decoded rows of one frame (or a merge of frames), columnar.
type chunk struct {
	seq   int // frame order
	n     int
	cap   int
	ts    []uint64
	cpu   []uint32
	pid   []int32
	tid   []int32
	comm  []int32 // index into the comm dictionary, -1 = unknown
	probe []int32
	stack []int64 // chunk-local stack index, -1 = none; global id after assignStacks
	// period is the sample's period, noPeriod when it carries none
	period []uint64
	cols   []*colBuf
	used   int            // field columns allocated in cols
	raw    [numRaw][]byte // pooled backing of the common columns

	stacks   []stackKey
	stackIdx hashIndex

	minTS, maxTS uint64
	sorted       bool
	hasStacks    bool
	unknownComm  bool

	truncated []uint64 // per source: samples with fields beyond the payload
	err       error
}

type stackKey struct {
	pid uint32
	ips []uint64
}

func newChunk(ncols, nsrc, capacity int) *chunk {
	if capacity < 16 {
		capacity = 16
	}
	c := &chunk{cap: capacity, sorted: true, minTS: ^uint64(0)}
	c.alloc(capacity)
	c.cols = make([]*colBuf, ncols)
	c.truncated = make([]uint64, nsrc)
	return c
}

// Common column indexes into chunk.raw.
const (
	rawTS = iota
	rawCPU
	rawPID
	rawTID
	rawComm
	rawProbe
	rawStack
	rawPeriod
	numRaw
)

var rawWidth = [numRaw]int{8, 4, 4, 4, 4, 4, 8, 8}

// noPeriod marks a row whose sample carries no period (it counts one event).
const noPeriod = ^uint64(0)

// alloc (re)allocates the common columns for capacity rows from the pool,
// keeping the rows already decoded.
func (c *chunk) alloc(capacity int) {
	for i := range c.raw {
		nb := pool.get(capacity * rawWidth[i])
		if c.raw[i] != nil {
			copy(nb, c.raw[i][:c.n*rawWidth[i]])
			pool.put(c.raw[i])
		}
		c.raw[i] = nb
	}
	c.ts = u64s(c.raw[rawTS])
	c.cpu = u32s(c.raw[rawCPU])
	c.pid = i32s(c.raw[rawPID])
	c.tid = i32s(c.raw[rawTID])
	c.comm = i32s(c.raw[rawComm])
	c.probe = i32s(c.raw[rawProbe])
	c.stack = i64s(c.raw[rawStack])
	c.period = u64s(c.raw[rawPeriod])
	c.cap = capacity
}

// release returns a chunk's pooled memory when it is not turned into a record.
func (c *chunk) release() {
	for i, b := range c.raw {
		pool.put(b)
		c.raw[i] = nil
	}
	for _, b := range c.cols {
		if b != nil {
			pool.put(b.valid)
			if b.width > 0 {
				pool.put(b.data)
			} else {
				pool.put(int32Bytes(b.offsets))
			}
		}
	}
}

func int32Bytes(v []int32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), cap(v)*4)
}

// newColBuf allocates a column buffer of capacity rows: validity zeroed (all
// null), values undefined until written; a variable-width column's values
// start with room for dataCap bytes.
func newColBuf(width, capacity, dataCap int) *colBuf {
	b := &colBuf{width: width, valid: pool.getZero((capacity + 7) / 8)}
	if width > 0 {
		b.data = pool.get(capacity * width)
	} else {
		b.offsets = i32s(pool.get((capacity + 1) * 4))
		b.offsets[0] = 0
		b.data = make([]byte, 0, dataCap)
	}
	return b
}

// col returns column i, allocating it on first use.
func (c *chunk) col(i int, cols []column) *colBuf {
	b := c.cols[i]
	if b == nil {
		b = newColBuf(cols[i].width, c.cap, c.cap*cols[i].sizeHint)
		c.cols[i] = b
		c.used++
	}
	return b
}

// noteVarUse records the bytes per row the variable-width columns of a
// decoded chunk used, for varCol to size the next ones.
func (r *Reader) noteVarUse(c *chunk) {
	if c.n == 0 {
		return
	}
	for i, b := range c.cols {
		if b != nil && b.width == 0 {
			r.varPerRow[i].Store(max(uint64(len(b.data))<<10/uint64(c.n), 1))
		}
	}
}

// grow doubles the capacity.
func (c *chunk) grow() {
	n := c.cap * 2
	for _, b := range c.cols {
		if b == nil {
			continue
		}
		nb := newColBuf(b.width, n, 0)
		copy(nb.valid, b.valid)
		pool.put(b.valid)
		b.valid = nb.valid
		if b.width > 0 {
			copy(nb.data, b.data[:c.n*b.width])
			pool.put(b.data)
			b.data = nb.data
		} else {
			copy(nb.offsets, b.offsets[:b.filled+1])
			pool.put(int32Bytes(b.offsets))
			b.offsets = nb.offsets
		}
	}
	c.alloc(n)
}

// internStack returns the chunk-local index of a callchain.
func (c *chunk) internStack(pid uint32, ips []uint64) int64 {
	if !hasUser(ips) {
		pid = 0
	}
	h := stackHash(pid, ips)
	if i, ok := c.stackIdx.find(h, func(i int64) bool {
		k := c.stacks[i]
		return k.pid == pid && slices.Equal(k.ips, ips)
	}); ok {
		return i
	}
	i := int64(len(c.stacks))
	c.stackIdx.add(h, i)
	c.stacks = append(c.stacks, stackKey{pid: pid, ips: append([]uint64(nil), ips...)})
	c.hasStacks = true
	return i
}

// Perf callchain context markers.
const (
	contextMax         = ^uint64(0) - 4095 + 1 // values >= this are markers
	contextHV          = ^uint64(32) + 1
	contextKernel      = ^uint64(128) + 1
	contextUser        = ^uint64(512) + 1
	contextGuestKernel = ^uint64(2176) + 1
	contextGuestUser   = ^uint64(2560) + 1
)

func hasUser(ips []uint64) bool {
	for _, ip := range ips {
		if ip == contextUser || ip == contextGuestUser {
			return true
		}
		if ip < contextMax && ip < 1<<63 {
			return true // a user address with no marker
		}
	}
	return false
}

// finishRange sets minTS and maxTS once decoding is done.
func (c *chunk) finishRange() {
	if c.n == 0 {
		return
	}
	if c.sorted {
		c.minTS, c.maxTS = c.ts[0], c.ts[c.n-1]
		return
	}
	c.minTS, c.maxTS = c.ts[0], c.ts[0]
	for _, t := range c.ts[:c.n] {
		c.minTS, c.maxTS = min(c.minTS, t), max(c.maxTS, t)
	}
}

// popcount counts set bits of the first n bits of a bitmap.
func popcount(bm []byte, n int) int {
	c := 0
	full := n / 8
	for _, b := range bm[:full] {
		c += bits.OnesCount8(b)
	}
	if rem := n % 8; rem != 0 {
		c += bits.OnesCount8(bm[full] & (1<<rem - 1))
	}
	return c
}
