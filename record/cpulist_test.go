package record

import (
	"slices"
	"testing"
)

func TestCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		fmt  string
	}{
		{"0", []int{0}, "0"},
		{"0,2-3", []int{0, 2, 3}, "0,2-3"},
		{"0-3,5,7-8", []int{0, 1, 2, 3, 5, 7, 8}, "0-3,5,7-8"},
		{" 1 , 1", []int{1}, "1"},
	}
	for _, tc := range tests {
		got, err := ParseCPUList(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if s := FormatCPUList(got); s != tc.fmt {
			t.Errorf("FormatCPUList(%v) = %q, want %q", got, s, tc.fmt)
		}
	}
	for _, bad := range []string{"", "a", "-1", "3-1", "1,,2", "0-99999999"} {
		if _, err := ParseCPUList(bad); err == nil {
			t.Errorf("ParseCPUList(%q) succeeded", bad)
		}
	}
}

func FuzzParseCPUList(f *testing.F) {
	f.Add("0,2-3")
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUList(s)
		if err != nil {
			return
		}
		slices.Sort(cpus)
		again, err := ParseCPUList(FormatCPUList(cpus))
		if err != nil || !slices.Equal(again, cpus) {
			t.Fatalf("round trip of %v: %v %v", cpus, again, err)
		}
	})
}
