package replay

import "testing"

// TestHashIndexCollisions: distinct stacks whose hashes collide keep their
// own ids (a hash names a bucket, the caller's comparison decides).
func TestHashIndexCollisions(t *testing.T) {
	var x hashIndex
	keys := []string{"a", "b", "c"}
	for i := range keys {
		x.add(7, int64(i))
	}
	x.add(8, 3)
	for i, k := range keys {
		id, ok := x.find(7, func(id int64) bool { return id < 3 && keys[id] == k })
		if !ok || id != int64(i) {
			t.Errorf("find %q = %d, %v; want %d", k, id, ok, i)
		}
	}
	if _, ok := x.find(7, func(int64) bool { return false }); ok {
		t.Error("found an id no comparison accepted")
	}
	if id, ok := x.find(8, func(id int64) bool { return true }); !ok || id != 3 {
		t.Errorf("find under hash 8 = %d, %v; want 3", id, ok)
	}
	if _, ok := x.find(9, func(int64) bool { return true }); ok {
		t.Error("found an id under a hash never added")
	}
}
