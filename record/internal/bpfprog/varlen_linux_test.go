//go:build linux

package bpfprog

import (
	"os"
	"testing"
)

// TestVarTracepointLoads has the kernel's verifier check the
// variable-length tracepoint program in its shapes: __data_loc and
// __rel_loc words, several of them, with call stacks and with a filter;
// and refuses location words outside the fixed part.
func TestVarTracepointLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF")
	}
	f, err := ParseFilter("pid > 1", map[string]FilterField{"pid": {Off: 12, Size: 4, Signed: true}}, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		locs  []Loc
		f     *Filter
		stack int
	}{
		{"data_loc", []Loc{{Off: 8}}, nil, 0},
		{"rel_loc", []Loc{{Off: 8, Rel: true}}, nil, 0},
		{"two with stacks", []Loc{{Off: 8}, {Off: 16, Rel: true}}, nil, 127},
		{"filtered", []Loc{{Off: 8}}, f, 0},
	} {
		s, err := New(1<<20, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.VarTracepoint(0, 20, tc.locs, tc.f, tc.stack); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		s.Close()
	}
	s, err := New(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.VarTracepoint(0, 20, []Loc{{Off: 18}}, nil, 0); err == nil {
		t.Error("a location word past the fixed part: loaded")
	}
}
