package format

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestGroupTraces groups files by their set blocks: two sets' files,
// interleaved and out of order, give one trace each; plain files stay
// traces of their own, whatever their names say.
func TestGroupTraces(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeSetFile(t, p("a-0002.zst"), "aaaa", 2, []string{"x"}, times(2000, 10, 10), 0, 3000)
	writeSetFile(t, p("b-0001.zst"), "bbbb", 1, []string{"x"}, times(1000, 10, 10), 0, 2000)
	writeSetFile(t, p("a-0001.zst"), "aaaa", 1, []string{"x"}, times(1000, 10, 10), 0, 2000)
	writeSetFile(t, p("plain1.zst"), "", 0, []string{"x"}, times(1000, 10, 10), 0, 0)
	writeSetFile(t, p("plain2-0001.zst"), "", 0, []string{"x"}, times(1000, 10, 10), 0, 0)
	writeSetFile(t, p("b-0003.zst"), "bbbb", 3, []string{"x"}, times(3000, 10, 10), 0, 4000)
	in := []string{p("a-0002.zst"), p("b-0001.zst"), p("plain1.zst"), p("a-0001.zst"), p("plain2-0001.zst"), p("b-0003.zst")}
	got, err := GroupTraces(in)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{p("a-0002.zst"), p("a-0001.zst")},
		{p("b-0001.zst"), p("b-0003.zst")},
		{p("plain1.zst")},
		{p("plain2-0001.zst")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GroupTraces = %v, want %v", got, want)
	}
	if _, err := GroupTraces([]string{p("missing.zst")}); err == nil {
		t.Error("a missing file gave no error")
	}
}
