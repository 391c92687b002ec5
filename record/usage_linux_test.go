//go:build linux

package record

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPeakRSS reads this process's peak resident memory after touching
// 64 MiB: at least that, about what getrusage reports (which is updated
// lazily), and no answer for a missing process.
func TestPeakRSS(t *testing.T) {
	const n = 64 << 20
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
	peak, ok := PeakRSS(os.Getpid())
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	t.Logf("VmHWM %d, ru_maxrss %d", peak, ru.Maxrss<<10)
	if !ok || peak < n || peak > 2*(ru.Maxrss<<10) {
		t.Errorf("PeakRSS = %d, %v: want at least %d, about ru_maxrss %d", peak, ok, n, ru.Maxrss<<10)
	}
	if u := SelfUsage(); u.MaxRSS != peak && u.MaxRSS < n {
		t.Errorf("SelfUsage().MaxRSS = %d, want about %d", u.MaxRSS, peak)
	}
	if _, ok := PeakRSS(-1); ok {
		t.Error("PeakRSS(-1) answered")
	}
	b[0] = b[n-1] // keep b alive until here
}
