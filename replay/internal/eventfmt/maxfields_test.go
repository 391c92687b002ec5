package eventfmt

import (
	"fmt"
	"strings"
	"testing"
)

// TestMaxFields: MaxFields fields parse, one more is refused (a format of
// 60,000 fields used to take minutes: duplicates were found by a scan).
func TestMaxFields(t *testing.T) {
	build := func(n int) string {
		var b strings.Builder
		b.WriteString("name: e\nID: 1\nformat:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "\tfield:char f%d;\toffset:%d;\tsize:1;\tsigned:0;\n", i, 8+i)
		}
		return b.String()
	}
	if ev, err := Parse(build(MaxFields)); err != nil || len(ev.Fields) != MaxFields {
		t.Fatalf("%d fields: %v", MaxFields, err)
	}
	if _, err := Parse(build(MaxFields + 1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("%d fields: %v", MaxFields+1, err)
	}
	if _, err := Parse(build(60000)); err == nil {
		t.Error("60000 fields parsed")
	}
}
