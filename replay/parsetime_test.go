package replay

import (
	"strings"
	"testing"
)

func TestParseTime(t *testing.T) {
	const start = 5_000_000_000
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{"2s", start + 2e9, ""},
		{" 250ms ", start + 250e6, ""},
		{"1m30s", start + 90e9, ""},
		{"0s", start, ""},
		{"5000000000", 5_000_000_000, ""},
		{"7000000000", 7_000_000_000, ""},
		{"2", 0, "before the trace starts"}, // seconds without a unit
		{"4999999999", 0, "give a unit: 4999999999s"},
		{"", 0, "empty"},
		{"-1s", 0, "negative"},
		{"2x", 0, "want a duration"},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, start)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTime(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
