//go:build linux

package vmtest

import (
	"embed"
	"fmt"
	"path"
	"strings"
)

// Kernel is a Debian kernel image package the harness can boot.
type Kernel struct {
	Name    string   // short name used in file and test names, e.g. "6.1"
	Package string   // Debian binary package, e.g. "linux-image-6.1.0-56-amd64"
	Arch    string   // its architecture (a key of Archs); "" is amd64
	Jobs    []string // the jobs that run on it, nil for every job
}

// Kernels are the kernels the VM tests run on: the oldest and newest
// Debian 12 kernel lines, whose kprobe PMU types and trace formats differ,
// and the newest on arm64, where the jobs that are not about x86-64 run
// (register names and syscall entry points differ).
var Kernels = []Kernel{
	{Name: "6.1", Package: "linux-image-6.1.0-56-amd64"},
	{Name: "6.12", Package: "linux-image-6.12.117+deb12-amd64"},
	{Name: "6.12-arm64", Package: "linux-image-6.12.117+deb12-arm64", Arch: "arm64",
		Jobs: []string{"regs", "openat", "bpfprobes", "retprobes", "btfnames", "btfcheck", "globs", "cleanup"}},
}

//go:embed init.sh
var initScript string

//go:embed lib.sh
var libScript string

//go:embed jobs/*.sh
var jobFS embed.FS

// Job is one shell script run inside the VM, in its own output directory
// ($OUT); every file the job leaves there comes back to the host.
type Job struct {
	Name   string // file name without ".sh"
	Script string
}

// Jobs returns the embedded job scripts by name.
func Jobs() (map[string]Job, error) {
	ents, err := jobFS.ReadDir("jobs")
	if err != nil {
		return nil, fmt.Errorf("read embedded jobs: %w", err)
	}
	jobs := make(map[string]Job, len(ents))
	for _, e := range ents {
		b, err := jobFS.ReadFile(path.Join("jobs", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read embedded job %s: %w", e.Name(), err)
		}
		name := strings.TrimSuffix(e.Name(), ".sh")
		jobs[name] = Job{Name: name, Script: string(b)}
	}
	return jobs, nil
}
