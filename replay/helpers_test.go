package replay

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay/internal/eventfmt"
)

// requireCI skips locally and fails under CI=true, for tests needing tools
// that CI installs.
func requireCI(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skip(reason)
}

func loadFormat(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "formats", name+".format"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// payload builds a raw sample payload for a format from field values: ints
// (any integer type), strings for char arrays and __data_loc/__rel_loc
// strings, []byte for other arrays. pad adds trailing pad bytes, as perf does.
func payload(t testing.TB, ftext string, vals map[string]any, pad int) []byte {
	t.Helper()
	ev, err := eventfmt.Parse(ftext)
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, f := range ev.Fields {
		if e := f.Offset + f.Size; e > size {
			size = e
		}
	}
	raw := make([]byte, size)
	binary.LittleEndian.PutUint16(raw, uint16(ev.ID))
	for name, v := range vals {
		f := ev.Field(name)
		if f == nil {
			t.Fatalf("%s has no field %s", ev.Name, name)
		}
		switch f.Kind {
		case eventfmt.KindInt:
			var u uint64
			switch x := v.(type) {
			case int:
				u = uint64(x)
			case int64:
				u = uint64(x)
			case uint64:
				u = x
			case uint32:
				u = uint64(x)
			default:
				t.Fatalf("field %s: bad value %T", name, v)
			}
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], u)
			copy(raw[f.Offset:f.Offset+f.Size], b[:f.Size])
		case eventfmt.KindString:
			copy(raw[f.Offset:f.Offset+f.Size], v.(string))
		case eventfmt.KindBytes:
			copy(raw[f.Offset:f.Offset+f.Size], v.([]byte))
		case eventfmt.KindDataLoc, eventfmt.KindRelLoc:
			var data []byte
			switch x := v.(type) {
			case string:
				data = append([]byte(x), 0)
			case []byte:
				data = x
			}
			off := len(raw)
			raw = append(raw, data...)
			if f.Kind == eventfmt.KindRelLoc {
				off -= f.Offset + 4
			}
			binary.LittleEndian.PutUint32(raw[f.Offset:], uint32(len(data))<<16|uint32(off))
		}
	}
	return append(raw, make([]byte, pad)...)
}

// traceSpec describes a small trace to write with format.Writer.
type traceSpec struct {
	sources    []format.Source
	samples    []format.Sample
	flushAfter map[int]bool // close a frame after sample i
	frameBytes int          // format.WriterOptions.FrameBytes; 0: the default
	comms      []format.Comm
	syms       []format.Symbol
	users      []format.UserFrame
}

func writeTrace(t testing.TB, path string, spec traceSpec) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &format.Header{Application: "kpcap test", Sources: spec.sources,
		Host: format.Host{Hostname: "test", Kernel: "6.18.0", Machine: "x86_64", OS: "linux", CPUs: 2}}
	var wo *format.WriterOptions
	if spec.frameBytes > 0 {
		wo = &format.WriterOptions{FrameBytes: spec.frameBytes}
	}
	w, err := format.NewWriter(f, h, wo)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.syms) > 0 {
		if err := w.AddSymbols(spec.syms); err != nil {
			t.Fatal(err)
		}
	}
	if len(spec.users) > 0 {
		if err := w.AddUserFrames(spec.users); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range spec.comms {
		if err := w.AddComm(c); err != nil {
			t.Fatal(err)
		}
	}
	for i := range spec.samples {
		if err := w.WriteSample(&spec.samples[i]); err != nil {
			t.Fatal(err)
		}
		if spec.flushAfter[i] {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every batch of a reader into rows of column name → value.
func readAllText(t testing.TB, path string, opts Options, json bool) (string, *Reader) {
	t.Helper()
	r, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var sb stringsBuilder
	if json {
		_, err = WriteJSON(r, &sb)
	} else {
		_, err = WriteText(r, &sb)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sb.String(), r
}

type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *stringsBuilder) String() string              { return string(s.b) }
