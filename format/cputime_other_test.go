//go:build !unix

package format

import "time"

// processCPU is unknown here; benchmarks then skip the per-CPU metric.
func processCPU() time.Duration { return 0 }
