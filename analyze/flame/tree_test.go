package flame

import (
	"runtime"
	"strings"
	"testing"
)

// deepProfile is issue #18's deep-callchain shape as folded stacks: n
// stacks of depth frames alternating a and b, stack i with frame i (from
// the leaf) flipped in every stack from i on, so that stack i leaves the
// one before it i frames above the leaf.
func deepProfile(n, depth int) *Profile {
	p := New("samples")
	fr := make([]string, depth)
	for k := range fr {
		fr[k] = string(rune('a' + k%2))
	}
	for i := 0; i < n; i++ {
		k := depth - 1 - i
		fr[k] = string(rune('a' + 'b' - rune(fr[k][0])))
		p.Add(fr, 1)
	}
	return p
}

func countNodes(n *node) int {
	c := 1
	for _, ch := range n.children {
		c += countNodes(ch)
	}
	return c
}

func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestTreeBytesPerFrame: the tree a flame graph draws takes a small node per
// frame of the tree, no index map per node.
func TestTreeBytesPerFrame(t *testing.T) {
	p := deepProfile(300, 4096)
	before := liveHeap()
	root := profileTree(p)
	kept := liveHeap() - before
	nodes := countNodes(root)
	runtime.KeepAlive(root)
	t.Logf("%d nodes keep %d bytes (%.0f per node)", nodes, kept, float64(kept)/float64(nodes))
	if want := 4096 + 300*299/2; nodes < want {
		t.Fatalf("%d nodes, want at least %d", nodes, want)
	}
	if kept > 120*int64(nodes) {
		t.Errorf("%d nodes keep %d bytes, over 120 per node", nodes, kept)
	}
}

// TestTreeFrameOrder: stacks whose first frames are a name and a longer
// name that sorts between it and its children ("a-b" between "a" and
// "a;x" as plain strings) still make one node per frame path.
func TestTreeFrameOrder(t *testing.T) {
	p := New("samples")
	for _, s := range []string{"a", "a-b;y", "a;x", "a;x;z", "a-b", "a;w"} {
		p.AddFolded(s, 1)
	}
	root := profileTree(p)
	var names []string
	for _, c := range root.children {
		names = append(names, c.name)
	}
	if got := strings.Join(names, ","); got != "a,a-b" {
		t.Fatalf("root children %s, want a,a-b", got)
	}
	a := root.children[0]
	if a.b != 4 || len(a.children) != 2 || a.children[0].name != "w" || a.children[1].name != "x" || a.children[1].b != 2 {
		t.Errorf("a: weight %v, children %+v", a.b, a.children)
	}
	for _, c := range []struct {
		x, y string
		want int
	}{{"a", "a;x", -1}, {"a;x", "a-b;y", -1}, {"a-b", "a;x", 1}, {"ab", "a;b", 1}, {"a;b", "a;b", 0}} {
		if got := compareFolded(c.x, c.y); got != c.want {
			t.Errorf("compareFolded(%q, %q) = %d, want %d", c.x, c.y, got, c.want)
		}
	}
}
