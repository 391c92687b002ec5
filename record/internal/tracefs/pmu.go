//go:build linux

package tracefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sysBus is where perf PMUs are described; a variable so tests can point elsewhere.
var sysBus = "/sys/bus/event_source/devices"

// PMUType returns the perf_event_attr.type of a dynamic PMU ("kprobe", "uprobe"), from
// /sys/bus/event_source/devices/NAME/type. It differs between kernels: never hard-code it.
func PMUType(name string) (uint32, error) {
	if err := checkName("PMU", name); err != nil {
		return 0, err
	}
	p := filepath.Join(sysBus, name, "type")
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("this kernel has no %s PMU (%s missing: needs Linux 4.17+ with CONFIG_%s_EVENTS)",
				name, p, strings.ToUpper(name))
		}
		return 0, fmt.Errorf("read %s PMU type: %w", name, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", p, err)
	}
	return uint32(v), nil
}

// RetprobeBit returns the bit of perf_event_attr.config that makes a PMU probe a return probe,
// parsed from /sys/bus/event_source/devices/NAME/format/retprobe ("config:0" → 0).
func RetprobeBit(name string) (uint, error) {
	if err := checkName("PMU", name); err != nil {
		return 0, err
	}
	p := filepath.Join(sysBus, name, "format", "retprobe")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read %s retprobe format: %w", name, err)
	}
	return parseConfigBit(strings.TrimSpace(string(b)))
}

func parseConfigBit(s string) (uint, error) {
	v, ok := strings.CutPrefix(s, "config:")
	if !ok {
		return 0, fmt.Errorf("unexpected retprobe format %q (want config:N)", s)
	}
	n, err := strconv.ParseUint(v, 10, 6)
	if err != nil {
		return 0, fmt.Errorf("unexpected retprobe format %q (want config:N with N < 64)", s)
	}
	return uint(n), nil
}
