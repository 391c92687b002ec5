//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestSnapshotTarget judges the flight recorder's CPU against a plain
// recording's on the same workload: within 1.1x passes, beyond fails,
// and without both columns there is no target.
func TestSnapshotTarget(t *testing.T) {
	mk := func(plain, snap float64) *Workload {
		return &Workload{Name: "getppid", Tools: []*ToolRuns{
			{Tool: toolKpcap, Median: Medians{OK: 1, RecorderCPU: jfloat(plain)}},
			{Tool: toolKpcapSnap, Median: Medians{OK: 1, RecorderCPU: jfloat(snap)}},
		}}
	}
	for _, tc := range []struct {
		plain, snap float64
		pass        bool
	}{{0.50, 0.54, true}, {0.50, 0.56, false}, {0.59, 0.67, false}} {
		tg, ok := snapshotTarget(mk(tc.plain, tc.snap))
		if !ok || tg.Pass == nil || *tg.Pass != tc.pass || !strings.Contains(tg.Kpcap, "x)") {
			t.Errorf("plain %.2f s, snapshot %.2f s: %+v (ok %v), want pass %v", tc.plain, tc.snap, tg, ok, tc.pass)
		}
	}
	w := mk(0.5, 0.5)
	w.Tools = w.Tools[:1]
	if _, ok := snapshotTarget(w); ok {
		t.Error("a target without the snapshot column")
	}
}
