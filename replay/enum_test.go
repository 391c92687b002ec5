package replay

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestTextEnumNames: a field whose source carries BTF enum names (format 4.4
// "fields") prints by name, without the recording kernel's BTF; values with
// no name, and files without the key, print numbers.
func TestTextEnumNames(t *testing.T) {
	sw := loadFormat(t, "sched_switch")
	mk := func(fields []format.FieldType) string {
		path := filepath.Join(t.TempDir(), "enum.kpcap")
		spec := traceSpec{sources: []format.Source{{Name: "sched:sched_switch", Kind: format.KindTracepoint, Format: sw, Fields: fields}}}
		for i, v := range []int{0, 1, 7, -1} {
			spec.samples = append(spec.samples, format.Sample{Time: uint64(1e9 + i), PID: 5, TID: 5,
				Raw: payload(t, sw, map[string]any{"common_pid": 5, "prev_pid": 5, "prev_state": v}, 0)})
		}
		writeTrace(t, path, spec)
		return path
	}
	enum := []format.FieldType{{Name: "prev_state", CType: "enum task_state", Enum: []format.EnumValue{
		{Value: 0, Name: "TASK_RUNNING"}, {Value: 1, Name: "TASK_INTERRUPTIBLE"}, {Value: -1, Name: "TASK_DEAD_ISH"}}}}
	path := mk(enum)
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Header.Sources[0].Fields; len(got) != 1 || len(got[0].Enum) != 3 || got[0].CType != "enum task_state" {
		t.Fatalf("fields did not round-trip: %+v", got)
	}
	f.Close()
	text, _ := readAllText(t, path, Options{}, false)
	var states []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		_, v, _ := strings.Cut(l, "prev_state=")
		states = append(states, strings.Fields(v)[0])
	}
	if want := "TASK_RUNNING TASK_INTERRUPTIBLE 7 TASK_DEAD_ISH"; strings.Join(states, " ") != want {
		t.Errorf("prev_state printed %q, want %q\n%s", states, want, text)
	}
	// JSON keeps the numbers scripts rely on.
	js, _ := readAllText(t, path, Options{}, true)
	if !strings.Contains(js, `"prev_state":1`) {
		t.Errorf("JSON lost the number: %s", js)
	}
	// A file without field types reads as before.
	plain, _ := readAllText(t, mk(nil), Options{}, false)
	if !strings.Contains(plain, "prev_state=0 ") || strings.Contains(plain, "TASK_") {
		t.Errorf("without field types:\n%s", plain)
	}
}
