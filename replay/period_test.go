package replay

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
)

// TestPeriodColumn checks that a sample's period reaches the period column,
// the text line and the JSON object, and that samples without one have none.
func TestPeriodColumn(t *testing.T) {
	spec := goldenSpec(t)
	spec.samples[3].Period, spec.samples[3].HasPeriod = 2479226, true
	p := filepath.Join(t.TempDir(), "period.kpcap")
	writeTrace(t, p, spec)

	text, _ := readAllText(t, p, Options{}, false)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		has := strings.HasSuffix(l, " period=2479226")
		if has != (i == 3) || strings.Count(l, "period=") > 1 {
			t.Errorf("text line %d: %q", i, l)
		}
	}
	js, _ := readAllText(t, p, Options{}, true)
	for i, l := range strings.Split(strings.TrimSpace(js), "\n") {
		if has := strings.Contains(l, `,"period":2479226}`); has != (i == 3) || (i != 3 && strings.Contains(l, `"period"`)) {
			t.Errorf("JSON line %d: %s", i, l)
		}
	}

	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	row, valid := 0, 0
	for r.Next() {
		rec := r.Record()
		pc := col(t, rec, ColPeriod).(*array.Uint64)
		for i := 0; i < pc.Len(); i++ {
			if pc.IsValid(i) {
				valid++
				if row != 3 || pc.Value(i) != 2479226 {
					t.Errorf("row %d: period %d", row, pc.Value(i))
				}
			}
			row++
		}
	}
	if err := r.Err(); err != nil || valid != 1 {
		t.Errorf("%d rows with a period, want 1 (%v)", valid, err)
	}
}
