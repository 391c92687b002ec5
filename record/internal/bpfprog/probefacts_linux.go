//go:build linux

package bpfprog

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
	"github.com/kpcap/kpcap/record/internal/kernelbtf"
)

// probeRegsFact names the probe registers' offsets among the facts
// remembered per kernel build (kernelbtf.Remember).
const probeRegsFact = "bpfprog.probeRegs.v1"

// rememberedProbeRegs is probeRegs as remembered, in JSON.
type rememberedProbeRegs struct {
	Off    map[string]int
	IP, SP string
}

// rememberProbeRegs returns the probe registers' offsets, read from the
// kernel's BTF (readProbeRegs) or from what an earlier run remembered.
func rememberProbeRegs() (*probeRegs, error) {
	var f rememberedProbeRegs
	err := kernelbtf.Remember(probeRegsFact, &f, func(spec *btf.Spec) error {
		r, err := readProbeRegs(spec)
		if err != nil {
			return err
		}
		f = rememberedProbeRegs{Off: r.off, IP: r.ip, SP: r.sp}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := f.Off[f.IP]; !ok || f.IP == "" || f.SP == "" {
		return nil, fmt.Errorf("kernel BTF: remembered probe registers without %q", f.IP)
	}
	return &probeRegs{off: f.Off, ip: f.IP, sp: f.SP}, nil
}
