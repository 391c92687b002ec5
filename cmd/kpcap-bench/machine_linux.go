//go:build linux

package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
)

// machineInfo describes this machine and the tools' versions.
func machineInfo(kpcap string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	if out, err := exec.Command("perf", "--version").Output(); err == nil {
		m.PerfVersion = strings.TrimSpace(string(out))
	}
	if kpcap != "" {
		if out, err := exec.Command(kpcap, "version").Output(); err == nil {
			m.KpcapVersion = strings.TrimSpace(string(out))
		}
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func utsString(b []int8) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}
