//go:build linux

package vmtest

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed stepper/stepper.c
var stepperC string

// BuildStepper compiles kpcap-stepper, the uprobe target of the bpfprobes
// job, into dir with the host's gcc: static and without PIE, so that the
// addresses its probes read are the same in every run. Only x86-64 hosts
// build it (no cross compiler is assumed for arm64).
func BuildStepper(ctx context.Context, dir string) (string, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("kpcap-stepper needs gcc: %w", err)
	}
	src, bin := filepath.Join(dir, "stepper.c"), filepath.Join(dir, "kpcap-stepper")
	if err := os.WriteFile(src, []byte(stepperC), 0o644); err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, gcc, "-O1", "-static", "-no-pie", "-fno-pie", "-o", bin, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc kpcap-stepper: %v\n%s", err, out)
	}
	return bin, nil
}
