package closest

import (
	"reflect"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"marker", "markr", 1}, {"abc", "abc", 0}, {"kitten", "sitting", 3}, {"", "ab", 2}, {"shced", "sched", 1}, {"ab", "ba", 1}, {"abcd", "badc", 2}} {
		if got := Distance(c.a, c.b, 10); got != c.d {
			t.Errorf("Distance(%q,%q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	if got := Distance("aaaaaaaa", "bbbbbbbb", 2); got != 3 {
		t.Errorf("bounded distance = %d, want 3", got)
	}
}

func TestBest(t *testing.T) {
	var r Ranked
	for _, c := range []struct {
		name string
		d    int
	}{{"c", 2}, {"b", 1}, {"a", 1}, {"d", 0}, {"e", 3}} {
		r.Add(c.name, c.d)
	}
	if got, want := r.Best(3), []string{"d", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Best(3) = %q, want %q", got, want)
	}
	var empty Ranked
	if got := empty.Best(5); got != nil {
		t.Errorf("Best of nothing = %q", got)
	}
}
