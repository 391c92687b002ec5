package format

// THIS FILE HOLDS THE AGREED API WITH PLACEHOLDER BODIES. The format helper
// replaces it with the real writer.go / reader.go / sample.go (same names and
// signatures; additions are fine, changes must be told to the lead).

import (
	"errors"
	"io"
	"time"
)

var errTODO = errors.New("format: not implemented yet")

// AppendSample appends the versioned little-endian encoding of s (without
// Source and Time, which live in the EPB) to dst: u32 cpu, u32 pid, u32 tid,
// u32 flags, u32 raw_len, u32 nr_ips, then nr_ips u64 ips, then raw_len bytes.
func AppendSample(dst []byte, s *Sample) []byte { return dst }

// DecodeSample decodes EPB packet data into s (Raw aliases data; Callchain
// reuses s.Callchain's storage). It never panics on hostile bytes.
func DecodeSample(data []byte, s *Sample) error { return errTODO }

// WriterOptions tunes a Writer. Zero values pick defaults.
type WriterOptions struct {
	Level      int           // zstd level (klauspost: 1 fastest .. 4 best); default 1
	FrameBytes int           // close a frame at this many raw bytes; default 4 MiB
	FrameAge   time.Duration // close a frame at least this often; default 1s (checked on writes and by Tick)
}

// Writer writes a trace file. Not safe for concurrent use.
type Writer struct{}

// NewWriter writes the first frame's SHB, IDBs and header custom blocks to w.
func NewWriter(w io.Writer, h *Header, opts *WriterOptions) (*Writer, error) { return nil, errTODO }

// WriteSample appends one sample (s.Source must index h.Sources).
func (w *Writer) WriteSample(s *Sample) error { return errTODO }

// AddComm, AddLost, AddSymbols, AddUserFrames and AddNote queue metadata that
// goes into the current frame as custom blocks.
func (w *Writer) AddComm(c Comm) error              { return errTODO }
func (w *Writer) AddLost(l Lost) error              { return errTODO }
func (w *Writer) AddSymbols(s []Symbol) error       { return errTODO }
func (w *Writer) AddUserFrames(u []UserFrame) error { return errTODO }
func (w *Writer) AddNote(note string) error         { return errTODO }

// Tick closes the current frame if it is older than FrameAge; the recorder
// calls it from its loop so that a quiet capture still closes frames.
func (w *Writer) Tick(now time.Time) error { return errTODO }

// Flush closes the current frame now.
func (w *Writer) Flush() error { return errTODO }

// Close writes per-source ISBs from stats, closes the last frame and writes the
// seek index. It does not close the underlying io.Writer.
func (w *Writer) Close(stats []Stats) error { return errTODO }

// CompressedBytes and RawBytes report what has been written so far.
func (w *Writer) CompressedBytes() int64 { return 0 }
func (w *Writer) RawBytes() int64        { return 0 }

// File is an open trace: its metadata, read eagerly, and its frames, decoded on demand.
type File struct {
	Header     Header
	Stats      []Stats     // one per source (from ISBs; recomputed from samples if missing)
	Lost       []Lost      //
	Comms      []Comm      //
	Symbols    []Symbol    // sorted by Addr
	UserFrames []UserFrame //
	Frames     []FrameInfo // sample frames in file order
	Indexed    bool        // the seek index was present and valid
	Warnings   []string    // what could not be read (truncated tail, corrupt frame, ...)
	Size       int64       // file bytes
}

// Open opens and indexes a trace file. A truncated or partly corrupt file opens
// with Warnings; an unreadable one (not kpcap, unknown major version) is an error.
func Open(path string) (*File, error) { return nil, errTODO }

// NewReader is Open on any io.ReaderAt of the given size.
func NewReader(r io.ReaderAt, size int64) (*File, error) { return nil, errTODO }

// Close releases the file.
func (f *File) Close() error { return nil }

// ReadFrame returns frame i decompressed, reusing dst. Safe for concurrent use.
func (f *File) ReadFrame(i int, dst []byte) ([]byte, error) { return nil, errTODO }

// ForEachSample calls fn for every EPB of a decompressed frame, in file order.
// The Sample and its Raw are only valid during the call.
func ForEachSample(frame []byte, fn func(*Sample) error) error { return errTODO }

// Samples returns an iterator over every sample of the file in file order.
func (f *File) Samples() *SampleIter { return &SampleIter{} }

// SampleIter iterates over samples: for it.Next() { s := it.Sample() }; it.Err().
type SampleIter struct{}

func (it *SampleIter) Next() bool      { return false }
func (it *SampleIter) Sample() *Sample { return nil }
func (it *SampleIter) Err() error      { return errTODO }

// CommOf returns the command name of pid (or tid) at time t, "" if unknown.
func (f *File) CommOf(pid uint32, t uint64) string { return "" }

// KernelSymbol resolves a kernel address: name, offset into it, ok.
func (f *File) KernelSymbol(addr uint64) (name string, off uint64, ok bool) { return "", 0, false }

// UserSymbol resolves a user address of pid from the recorded UserFrames.
func (f *File) UserSymbol(pid uint32, addr uint64) (UserFrame, bool) { return UserFrame{}, false }
