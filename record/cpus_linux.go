//go:build linux

package record

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// selectCPUs returns the CPUs to record on: the online ones, or the
// requested subset of them.
func selectCPUs(want []int) ([]int, error) {
	online, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	if len(want) == 0 {
		return online, nil
	}
	out := make([]int, 0, len(want))
	for _, c := range want {
		if !slices.Contains(online, c) {
			return nil, &UsageError{fmt.Sprintf("CPU %d is not online (online: %s)", c, FormatCPUList(online))}
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		n := runtime.NumCPU()
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	return ParseCPUList(strings.TrimSpace(string(b)))
}

// bufferSize returns the ring data bytes per CPU: a power-of-two number of pages.
func bufferSize(want, ncpu int) int {
	page := os.Getpagesize()
	if want <= 0 {
		want = 16 << 20
		if total := 256 << 20; want*ncpu > total {
			want = max(total/ncpu, 1<<20)
		}
	}
	n := page
	for n*2 <= want {
		n *= 2
	}
	return n
}
