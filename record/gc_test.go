package record

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestGCTuner checks that a recording turns the GC off under a memory
// limit, falls back to proportional pacing once the live heap passes half
// the limit, and restores the process's settings.
func TestGCTuner(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set: the tuner leaves the GC alone by design")
	}
	pct0 := debug.SetGCPercent(100)
	defer debug.SetGCPercent(pct0)
	lim0 := debug.SetMemoryLimit(-1)
	const limit = 64 << 20
	g := tuneGC(limit)
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Fatalf("GOGC while recording = %d, want off (-1)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("memory limit while recording = %d, want %d", got, limit)
	}
	g.check() // no collection yet: nothing changes
	if g.fellBack {
		t.Fatal("fell back without a collection")
	}
	live := make([]byte, limit*3/4) // live heap past half the limit
	runtime.GC()
	g.check()
	if !g.fellBack {
		t.Fatal("no fallback with the live heap past half the limit")
	}
	if got := debug.SetGCPercent(-1); got != fallbackGCPct {
		t.Fatalf("GOGC after fallback = %d, want %d", got, fallbackGCPct)
	}
	runtime.KeepAlive(live)
	g.restore()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Fatalf("GOGC after restore = %d, want 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != lim0 {
		t.Fatalf("memory limit after restore = %d, want %d", got, lim0)
	}
}
