package parquetio

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// Columns writes a flat Parquet file of integer, timestamp, string
// and binary columns a whole column chunk at a time, encoding the pages
// itself (PLAIN, DELTA_BINARY_PACKED, RLE_DICTIONARY; RLE definition
// levels) with the types, encodings and statistics of Writer's
// files and arrow's metadata builders for the footer: parquet/file's
// column writers encode value by value through interfaces, which made them
// most of a dataset export's CPU time. Columns are written in schema
// order, each row group's columns between StartRowGroup and EndRowGroup.
type Columns struct {
	w      offsetWriter
	props  *parquet.WriterProperties
	sc     *schema.Schema
	meta   *metadata.FileMetaDataBuilder
	codec  compress.Codec
	level  int
	rg     *metadata.RowGroupMetaDataBuilder
	rgRows int
	rgSize int64
	rgNum  int16
	col    int
	// Reused buffers: a page's levels and values, its compressed form,
	// and values converted for encoding.
	hdr, page, comp []byte
	u64             []uint64
	idx             []int32
	entries         int // distinct values of the last dictionary built
}

// offsetWriter tracks the file offset, which the metadata records.
type offsetWriter struct {
	w   io.Writer
	pos int64
	err error
}

func (c *offsetWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.pos += int64(n)
	c.err = err
	return n, err
}

// parquetPageBytes bounds a data page's uncompressed values.
const parquetPageBytes = 1 << 20

// NewColumns starts a Parquet file of schema sc laid out by l on w,
// compressed with zstd at zstdLevel. Every column must be an integer, a timestamp, a string
// (a dictionary<int32, utf8> one through WriteDict) or binary; closing it
// does not close w.
func NewColumns(sc *arrow.Schema, w io.Writer, zstdLevel int, l Layout) (*Columns, error) {
	opts := append(l.options(sc), parquet.WithCompressionLevel(zstdLevel))
	props := parquet.NewWriterProperties(opts...)
	root, kv, err := parquetSchema(sc, props)
	if err != nil {
		return nil, err
	}
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return nil, err
	}
	p := &Columns{w: offsetWriter{w: w}, props: props, sc: schema.NewSchema(root), codec: codec, level: zstdLevel}
	p.meta = metadata.NewFileMetadataBuilder(p.sc, props, kv)
	p.w.Write([]byte("PAR1"))
	return p, p.w.err
}

// StartRowGroup begins a row group of rows rows.
func (p *Columns) StartRowGroup(rows int) {
	p.rg = p.meta.AppendRowGroup()
	p.rgRows, p.rgSize, p.col = rows, 0, 0
}

// EndRowGroup completes the row group; every column must have been written.
func (p *Columns) EndRowGroup() error {
	p.rg.SetNumRows(p.rgRows)
	if err := p.rg.Finish(p.rgSize, p.rgNum); err != nil {
		return err
	}
	p.rgNum++
	p.rg = nil
	return p.w.err
}

// Close writes the footer.
func (p *Columns) Close() error {
	if p.rg != nil {
		return fmt.Errorf("parquet: row group %d not ended", p.rgNum)
	}
	fm, err := p.meta.Finish()
	if err != nil {
		return err
	}
	n, err := fm.WriteTo(&p.w, nil)
	if err != nil {
		return err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:], uint32(n))
	copy(tail[4:], "PAR1")
	p.w.Write(tail[:])
	return p.w.err
}

// chunkWriter is one column chunk being written.
type chunkWriter struct {
	p       *Columns
	descr   *schema.Column
	cb      *metadata.ColumnChunkMetaDataBuilder
	enc     parquet.Encoding
	dictOff int64
	dataOff int64
	size    int64 // uncompressed, headers included
	csize   int64 // as written
	pages   int32
	// raw is set when the chunk is written uncompressed (see keepRaw).
	raw bool
}

// next starts the next column's chunk, checking it has rows rows of
// definition levels def (nil for a required column).
func (p *Columns) next(def []int16, rows int) (*chunkWriter, error) {
	if p.rg == nil || p.col >= p.sc.NumColumns() {
		return nil, fmt.Errorf("parquet: no column to write (column %d)", p.col)
	}
	d := p.sc.Column(p.col)
	p.col++
	if rows != p.rgRows {
		return nil, fmt.Errorf("parquet: column %s has %d rows, the row group %d", d.Name(), rows, p.rgRows)
	}
	if (def != nil) != (d.MaxDefinitionLevel() > 0) {
		return nil, fmt.Errorf("parquet: column %s: definition levels do not match its repetition", d.Name())
	}
	return &chunkWriter{p: p, descr: d, cb: p.rg.NextColumnChunk(), enc: p.props.EncodingFor(d.Path()), dictOff: -1, dataOff: -1}, nil
}

// finish writes the chunk's metadata, with stats when set.
func (c *chunkWriter) finish(stats metadata.TypedStatistics, rows int) error {
	if stats != nil && rows > 0 {
		enc, err := stats.Encode()
		if err != nil {
			return err
		}
		enc.Signed = c.descr.SortOrder() == schema.SortSIGNED
		if enc.IsSet() {
			c.cb.SetStats(enc)
		}
	}
	info := metadata.ChunkMetaInfo{NumValues: int64(rows), IndexPageOffset: -1, DataPageOffset: c.dataOff,
		CompressedSize: c.csize, UncompressedSize: c.size}
	es := metadata.EncodingStats{DataEncodingStats: map[parquet.Encoding]int32{c.enc: c.pages}}
	hasDict := c.dictOff >= 0
	if hasDict {
		info.DictPageOffset = c.dictOff
		es.DictEncodingStats = map[parquet.Encoding]int32{c.p.props.DictionaryPageEncoding(): 1}
	}
	if err := c.cb.Finish(info, hasDict, false, es, nil); err != nil {
		return err
	}
	c.p.rgSize += c.size
	_, err := c.cb.WriteTo(&c.p.w)
	if err == nil {
		err = c.p.w.err
	}
	return err
}

// statsFor returns fresh statistics for the column when it keeps them.
func (c *chunkWriter) statsFor() metadata.TypedStatistics {
	if !c.p.props.StatisticsEnabledFor(c.descr.Path()) {
		return nil
	}
	return metadata.NewStatistics(c.descr, memory.DefaultAllocator)
}

// pageRows is how many rows a data page of values width bytes wide takes.
func pageRows(width int) int { return max(parquetPageBytes/width, 1024) }

// writePages writes rows rows as data pages of at most per rows, with
// def's levels (nil: all defined) and the values vals(lo, hi) encodes,
// lo and hi counting defined values.
func (c *chunkWriter) writePages(def []int16, rows, per int, vals func(dst []byte, lo, hi int) []byte) error {
	v := 0
	for lo := 0; lo < rows || (rows == 0 && c.pages == 0); lo += per {
		hi := min(lo+per, rows)
		page := c.p.page[:0]
		nv := hi - lo
		if def != nil {
			page = append(page, 0, 0, 0, 0)
			page, nv = appendLevels(page, def[lo:hi])
			binary.LittleEndian.PutUint32(page, uint32(len(page)-4))
		}
		page = vals(page, v, v+nv)
		v += nv
		c.p.page = page
		if err := c.writePage(0, hi-lo, c.enc, page); err != nil {
			return err
		}
		if rows == 0 {
			break
		}
	}
	return nil
}

// Page types of the Parquet format.
const (
	pageData = 0
	pageDict = 2
)

// writePage compresses and writes one page of n values with its header.
func (c *chunkWriter) writePage(typ int32, n int, enc parquet.Encoding, data []byte) error {
	p := c.p
	if typ == pageData && c.pages == 0 && c.enc == parquet.Encodings.DeltaBinaryPacked {
		c.raw = c.keepRaw(data)
	}
	if c.raw {
		p.comp = append(p.comp[:0], data...)
	} else {
		p.comp = p.codec.EncodeLevel(p.comp[:cap(p.comp)], data, p.level)
	}
	h := appendPageHeader(p.hdr[:0], typ, len(data), len(p.comp), n, enc)
	p.hdr = h
	pos := p.w.pos
	if typ == pageDict {
		c.dictOff = pos
	} else {
		if c.dataOff < 0 {
			c.dataOff = pos
		}
		c.pages++
	}
	p.w.Write(h)
	p.w.Write(p.comp)
	c.size += int64(len(h) + len(data))
	c.csize += int64(len(h) + len(p.comp))
	return p.w.err
}

// rawSample is how much of a chunk's first page keepRaw compresses.
const rawSample = 16 << 10

// keepRaw reports whether the chunk whose first page is data should be
// written uncompressed, and marks it so in its metadata (Parquet names the
// codec per column chunk): when a sample of the page shrinks by less than
// a tenth. Delta-packed times of irregular events are such bit strings:
// zstd spent about a tenth of a fleet export's CPU on them for under 1%
// of their size.
func (c *chunkWriter) keepRaw(data []byte) bool {
	p := c.p
	sample := data[:min(len(data), rawSample)]
	p.comp = p.codec.EncodeLevel(p.comp[:cap(p.comp)], sample, p.level)
	if len(p.comp)*10 < len(sample)*9 {
		return false
	}
	c.cb.Contents().MetaData.Codec = 0 // UNCOMPRESSED
	return true
}

// appendPageHeader appends a Thrift compact PageHeader: type, sizes, and a
// DataPageHeader (RLE levels) or a DictionaryPageHeader.
func appendPageHeader(b []byte, typ int32, size, csize, n int, enc parquet.Encoding) []byte {
	const i32, structT = 5, 12
	b = appendI32(append(b, 1<<4|i32), typ)
	b = appendI32(append(b, 1<<4|i32), int32(size))
	b = appendI32(append(b, 1<<4|i32), int32(csize))
	if typ == pageDict {
		b = append(b, 4<<4|structT) // field 7
		b = appendI32(append(b, 1<<4|i32), int32(n))
		b = appendI32(append(b, 1<<4|i32), int32(enc))
	} else {
		b = append(b, 2<<4|structT) // field 5
		b = appendI32(append(b, 1<<4|i32), int32(n))
		b = appendI32(append(b, 1<<4|i32), int32(enc))
		b = appendI32(append(b, 1<<4|i32), int32(parquet.Encodings.RLE))
		b = appendI32(append(b, 1<<4|i32), int32(parquet.Encodings.RLE))
	}
	return append(b, 0, 0) // end of both structs
}

// appendI32 appends a Thrift compact i32: a zigzag varint.
func appendI32(b []byte, v int32) []byte {
	return binary.AppendUvarint(b, uint64(uint32(v<<1^v>>31)))
}

// WriteInt64 writes the next column, an int64 or timestamp column: vals
// are the defined values, def one level per row (nil for a required
// column). The column's encoding is PLAIN or DELTA_BINARY_PACKED.
func (p *Columns) WriteInt64(vals []int64, def []int16, rows int) error {
	c, err := p.next(def, rows)
	if err != nil {
		return err
	}
	if c.descr.PhysicalType() != parquet.Types.Int64 {
		return fmt.Errorf("parquet: column %s is not int64", c.descr.Name())
	}
	st := c.statsFor()
	if st != nil {
		st.(*metadata.Int64Statistics).Update(vals, int64(rows-len(vals)))
	}
	enc := func(dst []byte, lo, hi int) []byte { return append(dst, asBytes(vals[lo:hi])...) }
	if c.enc == parquet.Encodings.DeltaBinaryPacked {
		enc = func(dst []byte, lo, hi int) []byte { return p.appendDelta(dst, vals[lo:hi]) }
	}
	if err := c.writePages(def, rows, pageRows(8), enc); err != nil {
		return err
	}
	return c.finish(st, rows)
}

// WriteInt32 writes the next column, a PLAIN int32 one (see WriteInt64).
func (p *Columns) WriteInt32(vals []int32, def []int16, rows int) error {
	c, err := p.next(def, rows)
	if err != nil {
		return err
	}
	if c.descr.PhysicalType() != parquet.Types.Int32 || c.enc != parquet.Encodings.Plain {
		return fmt.Errorf("parquet: column %s is not plain int32", c.descr.Name())
	}
	st := c.statsFor()
	if st != nil {
		st.(*metadata.Int32Statistics).Update(vals, int64(rows-len(vals)))
	}
	err = c.writePages(def, rows, pageRows(4), func(dst []byte, lo, hi int) []byte {
		return append(dst, asBytes(vals[lo:hi])...)
	})
	if err != nil {
		return err
	}
	return c.finish(st, rows)
}

// WriteDict writes the next column, a string column, as dictionary dict
// (distinct values) and idx, one index into it per defined row.
func (p *Columns) WriteDict(dict []string, idx []int32, def []int16, rows int) error {
	c, err := p.next(def, rows)
	if err != nil {
		return err
	}
	if c.descr.PhysicalType() != parquet.Types.ByteArray {
		return fmt.Errorf("parquet: column %s is not a string column", c.descr.Name())
	}
	for i, j := range idx {
		if j < 0 || int(j) >= len(dict) {
			return fmt.Errorf("parquet: column %s: value %d: index %d of a %d-value dictionary", c.descr.Name(), i, j, len(dict))
		}
	}
	page := p.page[:0]
	for _, s := range dict {
		page = binary.LittleEndian.AppendUint32(page, uint32(len(s)))
		page = append(page, s...)
	}
	p.page = page
	if err := c.writePage(pageDict, len(dict), p.props.DictionaryPageEncoding(), page); err != nil {
		return err
	}
	c.enc = p.props.DictionaryIndexEncoding()
	width := 1
	if len(dict) > 1 {
		width = bits.Len32(uint32(len(dict) - 1))
	}
	err = c.writePages(def, rows, pageRows(4), func(dst []byte, lo, hi int) []byte {
		return appendHybrid(append(dst, byte(width)), idx[lo:hi], width)
	})
	if err != nil {
		return err
	}
	return c.finish(nil, rows)
}

// appendLevels appends definition levels (0 or 1) RLE/bit-packed and
// returns how many are 1.
func appendLevels(dst []byte, def []int16) ([]byte, int) {
	n := 0
	for _, d := range def {
		n += int(d & 1)
	}
	switch n {
	case len(def):
		return appendRun(dst, len(def), 1, 1), n
	case 0:
		return appendRun(dst, len(def), 0, 1), n
	}
	return appendHybrid(dst, def, 1), n
}

// appendRun appends an RLE run of n copies of v, width bits wide.
func appendRun(dst []byte, n int, v uint64, width int) []byte {
	dst = binary.AppendUvarint(dst, uint64(n)<<1)
	for b := 0; b < (width+7)/8; b++ {
		dst = append(dst, byte(v>>(8*b)))
	}
	return dst
}

// appendHybrid appends vals in the RLE/bit-packed hybrid encoding, width
// bits each: groups of 8 equal values extend RLE runs, other groups are
// bit-packed (the last group padded with zeros).
func appendHybrid[T int16 | int32](dst []byte, vals []T, width int) []byte {
	packStart, groups := -1, 0 // pending bit-packed groups: dst[packStart:]
	runV, runN := uint64(0), 0
	flushPacked := func() {
		if packStart >= 0 {
			hdr := binary.AppendUvarint(nil, uint64(groups)<<1|1)
			dst = slices.Insert(dst, packStart, hdr...)
			packStart, groups = -1, 0
		}
	}
	flushRun := func() {
		if runN > 0 {
			dst = appendRun(dst, runN, runV, width)
			runN = 0
		}
	}
	for i := 0; i < len(vals); i += 8 {
		g := vals[i:min(i+8, len(vals))]
		v0, same := uint64(g[0]), true
		for _, v := range g[1:] {
			same = same && uint64(v) == v0
		}
		if same && (len(g) == 8 || packStart < 0) {
			flushPacked()
			if runV != v0 {
				flushRun()
			}
			runV, runN = v0, runN+len(g)
			continue
		}
		flushRun()
		if groups == 63 {
			flushPacked()
		}
		if packStart < 0 {
			packStart = len(dst)
		}
		dst = packGroup(dst, g, width)
		groups++
	}
	flushRun()
	flushPacked()
	return dst
}

// packGroup appends up to 8 values bit-packed width bits each, LSB first,
// as one group of 8 (missing values are zeros): width bytes.
func packGroup[T int16 | int32](dst []byte, g []T, width int) []byte {
	var acc uint64
	nb := 0
	for k := 0; k < 8; k++ {
		var v uint64
		if k < len(g) {
			v = uint64(uint32(g[k])) & (1<<width - 1)
		}
		acc |= v << nb
		nb += width
		for nb >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	return dst
}

// Delta encoding layout: blocks of 128 values in 4 miniblocks of 32.
const (
	deltaBlock = 128
	deltaMini  = 32
)

// appendDelta appends vals DELTA_BINARY_PACKED.
func (p *Columns) appendDelta(dst []byte, vals []int64) []byte {
	dst = binary.AppendUvarint(dst, deltaBlock)
	dst = binary.AppendUvarint(dst, deltaBlock/deltaMini)
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	if len(vals) == 0 {
		return binary.AppendVarint(dst, 0)
	}
	dst = binary.AppendVarint(dst, vals[0])
	d := p.u64[:0]
	for i := 1; i < len(vals); i += deltaBlock {
		blk := vals[i:min(i+deltaBlock, len(vals))]
		prev := vals[i-1]
		minD := int64(uint64(blk[0]) - uint64(prev))
		d = d[:0]
		for _, v := range blk {
			delta := int64(uint64(v) - uint64(prev))
			prev = v
			minD = min(minD, delta)
			d = append(d, uint64(delta))
		}
		dst = binary.AppendVarint(dst, minD)
		var widths [deltaBlock / deltaMini]int
		for m := range widths {
			var or uint64
			for _, x := range d[min(m*deltaMini, len(d)):min((m+1)*deltaMini, len(d))] {
				or |= x - uint64(minD)
			}
			widths[m] = bits.Len64(or)
			dst = append(dst, byte(widths[m]))
		}
		for m, w := range widths {
			if m*deltaMini >= len(d) {
				break
			}
			dst = packMini(dst, d[m*deltaMini:min((m+1)*deltaMini, len(d))], uint64(minD), w)
		}
	}
	p.u64 = d
	return dst
}

// packMini appends a miniblock of 32 values (x - base), width bits each,
// LSB first; missing values are zeros.
func packMini(dst []byte, xs []uint64, base uint64, width int) []byte {
	if width == 0 {
		return dst
	}
	var acc uint64
	nb := 0
	for k := 0; k < deltaMini; k++ {
		var v uint64
		if k < len(xs) {
			v = xs[k] - base
		}
		acc |= v << nb
		if nb+width >= 64 {
			dst = binary.LittleEndian.AppendUint64(dst, acc)
			acc = v >> (64 - nb) // 0 when nb == 0
			nb = nb + width - 64
		} else {
			nb += width
		}
	}
	for ; nb > 0; nb -= 8 {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}
