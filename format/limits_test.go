package format

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestTooManySources: a file declaring more interfaces than MaxSources
// keeps the first MaxSources, says so, and skips the others' samples.
func TestTooManySources(t *testing.T) {
	srcs := make([]Source, MaxSources+5)
	for i := range srcs {
		srcs[i] = Source{Name: fmt.Sprintf("g:e%d", i), Kind: KindTracepoint}
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, &Header{Application: "test", Sources: srcs}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []uint32{0, MaxSources - 1, MaxSources, MaxSources + 4} {
		if err := w.WriteSample(&Sample{Source: src, Time: uint64(src) + 1, Raw: []byte{1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, buf.Bytes())
	if len(f.Header.Sources) != MaxSources || len(f.Stats) != MaxSources {
		t.Fatalf("%d sources, %d stats; want %d", len(f.Header.Sources), len(f.Stats), MaxSources)
	}
	if w := strings.Join(f.Warnings, "\n"); !strings.Contains(w, fmt.Sprintf("more than %d interfaces", MaxSources)) {
		t.Errorf("warnings: %s", w)
	}
	n := 0
	it := f.Samples()
	for it.Next() {
		if s := it.Sample(); int(s.Source) >= MaxSources {
			t.Errorf("sample of ignored source %d", s.Source)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d samples, want the 2 of kept sources", n)
	}
}

// TestDeepCallchain: a sample claiming more ips than any perf record can
// hold is refused by the decoder and the writer.
func TestDeepCallchain(t *testing.T) {
	s := Sample{Callchain: make([]uint64, MaxCallchain)}
	b := AppendSample(nil, &s)
	var d Sample
	if err := DecodeSample(b, &d); err != nil || len(d.Callchain) != MaxCallchain {
		t.Fatalf("%d ips: %v", len(d.Callchain), err)
	}
	deep := AppendSample(nil, &Sample{Callchain: make([]uint64, MaxCallchain+1)})
	if err := DecodeSample(deep, &d); err == nil {
		t.Error("a callchain of MaxCallchain+1 ips decoded")
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSample(&Sample{Callchain: make([]uint64, MaxCallchain+1)}); err == nil {
		t.Error("the writer took a callchain of MaxCallchain+1 ips")
	}
}

// TestTooManyComms: comm records past MaxComms are dropped with a warning.
func TestTooManyComms(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a million comm records")
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MaxComms+100_000; i++ {
		if err := w.AddComm(Comm{PID: uint32(i), TID: uint32(i), Comm: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, buf.Bytes())
	if len(f.Comms) != MaxComms {
		t.Errorf("%d comms kept, want %d", len(f.Comms), MaxComms)
	}
	// Once: every block past the limit used to repeat it, flooding the report.
	if w := strings.Join(f.Warnings, "\n"); strings.Count(w, "comm records") != 1 {
		t.Errorf("warnings: %s", w)
	}
}
