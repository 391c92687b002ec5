package format

import (
	"bytes"
	"testing"
)

// TestSamplePeriodRoundTrip writes samples with and without a period and
// reads them back through a file, and checks that an encoding without the
// flag (files of 1.0 and 1.1) reads as period 1.
func TestSamplePeriodRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := []Sample{
		{Source: 0, Time: 10, Raw: []byte{1, 2, 3}},
		{Source: 0, Time: 11, Raw: []byte{1, 2, 3, 4, 5}, Period: 2479226, HasPeriod: true},
		{Source: 1, Time: 12, Callchain: []uint64{1, 2}, Period: 0, HasPeriod: true},
		{Source: 1, Time: 13, Callchain: []uint64{3}, Raw: []byte{9}, Period: 1 << 40, HasPeriod: true},
	}
	for i := range in {
		if err := w.WriteSample(&in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	f := openBytes(t, buf.Bytes())
	it := f.Samples()
	i := 0
	for it.Next() {
		s, want := it.Sample(), in[i]
		if s.HasPeriod != want.HasPeriod || s.Weight() != want.Weight() || !bytes.Equal(s.Raw, want.Raw) || len(s.Callchain) != len(want.Callchain) {
			t.Errorf("sample %d: period %d (%v), raw %v, chain %v; want %+v", i, s.Period, s.HasPeriod, s.Raw, s.Callchain, want)
		}
		if !want.HasPeriod && s.Period != 1 {
			t.Errorf("sample %d without a period reads as %d, want 1", i, s.Period)
		}
		i++
	}
	if err := it.Err(); err != nil || i != len(in) {
		t.Fatalf("read %d samples: %v", i, err)
	}

	// The 1.1 encoding (flags 0) and one whose period is cut off.
	old := AppendSample(nil, &Sample{Raw: []byte{7, 7}, Callchain: []uint64{5}})
	var s Sample
	s.Period, s.HasPeriod = 99, true // a reused sample must be reset
	if err := DecodeSample(old, &s); err != nil || s.HasPeriod || s.Period != 1 || s.Weight() != 1 {
		t.Errorf("1.1 sample: %+v, %v", s, err)
	}
	withP := AppendSample(nil, &Sample{Raw: []byte{7, 7}, Period: 5, HasPeriod: true})
	if err := DecodeSample(withP, &s); err != nil || s.Period != 5 {
		t.Errorf("sample with a period: %+v, %v", s, err)
	}
	if err := DecodeSample(withP[:len(withP)-1], &s); err == nil {
		t.Error("a sample whose period is cut off decoded")
	}
}
