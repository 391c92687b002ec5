package main

import "testing"

// TestByteSize pins the forms info (one decimal) and record's summaries
// (two from MiB up) print.
func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		digits int
		want   string
	}{
		{0, 1, "0 B"},
		{1023, 2, "1023 B"},
		{1536, 2, "1.5 KiB"},
		{1<<20 - 1, 2, "1024.0 KiB"},
		{5<<20 + 1<<18, 1, "5.2 MiB"},
		{5<<20 + 1<<18, 2, "5.25 MiB"},
		{3 << 30, 2, "3.00 GiB"},
		{3 << 40, 1, "3.0 TiB"},
	} {
		if got := byteSize(tc.n, tc.digits); got != tc.want {
			t.Errorf("byteSize(%d, %d) = %q, want %q", tc.n, tc.digits, got, tc.want)
		}
	}
}
