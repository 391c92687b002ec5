//go:build linux

package vmtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/kernels/openat-*.pcapng.zst from fresh VM runs")

// jobOrder is the order jobs run in, in one boot per kernel.
var jobOrder = []string{"regs", "tracefs_baseline", "tracefs_gotest", "openat", "bpfprobes", "retprobes", "features", "btfnames", "btfcheck", "globs", "cleanup", "sample"}

var workDir string // VM outputs of this test process

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "kpcap-vmtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmtest:", err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	if code != 0 || os.Getenv("KPCAP_VMTEST_KEEP") != "" {
		fmt.Fprintf(os.Stderr, "vmtest: VM consoles, job channels and returned files kept in %s\n", dir)
	} else {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// requireVMTools skips (or, under CI=true, fails) when the tools that boot the
// VMs are missing.
func requireVMTools(t *testing.T) {
	t.Helper()
	var missing []string
	tools := []string{"cpio", "apt-get", "dpkg-deb"}
	for _, k := range Kernels {
		if a, err := ArchOf(k); err == nil && !contains(tools, a.Qemu) {
			tools = append(tools, a.Qemu)
		}
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if err := CheckStatic(busyboxPath(), Archs["amd64"].Machine); err != nil {
		missing = append(missing, "busybox-static ("+err.Error()+")")
	}
	if len(missing) == 0 {
		return
	}
	msg := "kprobe VM tests need " + strings.Join(missing, ", ") + " (apt-get install qemu-system-x86 qemu-system-arm busybox-static cpio)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func busyboxPath() string {
	if p := os.Getenv("KPCAP_BUSYBOX"); p != "" {
		return p
	}
	return "/bin/busybox"
}

// selectedJobs honours KPCAP_VMTEST_JOBS (comma-separated job names), a
// developer knob to iterate on one job; CI always runs every job.
func selectedJobs() []string {
	sel := os.Getenv("KPCAP_VMTEST_JOBS")
	if sel == "" || os.Getenv("CI") == "true" {
		return jobOrder
	}
	return strings.Split(sel, ",")
}

// selectedKernels honours KPCAP_VMTEST_KERNELS (comma-separated kernel
// names), a developer knob to boot fewer VMs; CI always boots every kernel.
func selectedKernels() []Kernel {
	sel := os.Getenv("KPCAP_VMTEST_KERNELS")
	if sel == "" || os.Getenv("CI") == "true" {
		return Kernels
	}
	var ks []Kernel
	for _, k := range Kernels {
		if contains(strings.Split(sel, ","), k.Name) {
			ks = append(ks, k)
		}
	}
	return ks
}

// kernelJobs returns the selected jobs that run on k, in jobOrder.
func kernelJobs(k Kernel) []string {
	var jobs []string
	for _, j := range selectedJobs() {
		if k.Jobs == nil || contains(k.Jobs, j) {
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// bootAll runs once per test process: it builds kpcap, packs one initramfs
// with every job and boots each kernel (in parallel). A failed boot fails
// only that kernel's subtests (errs[kernel]); err fails everything.
var bootAll = sync.OnceValues(func() (*bootResults, error) {
	ctx := context.Background()
	if dir := os.Getenv("KPCAP_VMTEST_REPLAY"); dir != "" && os.Getenv("CI") != "true" {
		return replayBoots(dir)
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	// Kernels first, one at a time (apt-get and dpkg-deb are I/O bound).
	kernels := map[string]string{}
	for _, k := range selectedKernels() {
		p, err := FetchKernel(ctx, k, cache)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		kernels[k.Name] = p
	}
	root, err := ModuleRoot(".")
	if err != nil {
		return nil, err
	}
	all, err := Jobs()
	if err != nil {
		return nil, err
	}
	// One initramfs per architecture: a static kpcap, busybox and the
	// test binaries built for it, and every job its kernels run.
	initrds := map[string]string{}
	for _, k := range selectedKernels() {
		a, err := ArchOf(k)
		if err != nil {
			return nil, err
		}
		if initrds[a.GOARCH] != "" {
			continue
		}
		initrd, err := packInitramfs(ctx, root, cache, a, all)
		if err != nil {
			return nil, fmt.Errorf("%s initramfs: %w", a.GOARCH, err)
		}
		initrds[a.GOARCH] = initrd
	}

	br := &bootResults{res: map[string]*Result{}, errs: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range selectedKernels() {
		a, _ := ArchOf(k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			vm := &VM{Arch: a, Kernel: kernels[k.Name], Initrd: initrds[a.GOARCH], Dir: filepath.Join(workDir, k.Name), Timeout: a.bootTimeout()}
			res, err := vm.Run(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				br.errs[k.Name] = fmt.Errorf("kernel %s: %w", k.Name, err)
				return
			}
			br.res[k.Name] = res
		}()
	}
	wg.Wait()
	return br, nil
})

// packInitramfs builds kpcap (and on amd64 record/internal/tracefs's VM tests) for a
// and packs them with busybox and the jobs a's kernels run.
func packInitramfs(ctx context.Context, root, cache string, a *Arch, all map[string]Job) (string, error) {
	dir := filepath.Join(workDir, a.GOARCH)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bb, err := a.Busybox(ctx, cache)
	if err != nil {
		return "", err
	}
	kpcap := filepath.Join(dir, "kpcap")
	if err := BuildKpcap(ctx, root, a.GOARCH, kpcap); err != nil {
		return "", err
	}
	ir := &Initramfs{Arch: a, Busybox: bb, Kpcap: kpcap, JobTime: 420 * time.Second,
		Files: map[string]string{"jobs/regs.list": regsList(a)}}
	var jobs []string
	for _, k := range selectedKernels() {
		if ka, _ := ArchOf(k); ka == a {
			for _, j := range kernelJobs(k) {
				if !contains(jobs, j) {
					jobs = append(jobs, j)
				}
			}
		}
	}
	// Keep jobOrder's order whatever the kernels list.
	for _, name := range selectedJobs() {
		if !contains(jobs, name) {
			continue
		}
		j, ok := all[name]
		if !ok {
			return "", fmt.Errorf("no job %q in jobs/", name)
		}
		ir.Jobs = append(ir.Jobs, j)
		if name == "bpfprobes" && a.GOARCH == "amd64" {
			bin, err := BuildStepper(ctx, dir)
			if err != nil {
				return "", err
			}
			ir.Bins = append(ir.Bins, bin)
		}
		if name == "tracefs_gotest" {
			// record/internal/tracefs's kprobe tests exist only under the kpcapvm tag:
			// they run here, on kernels that have kprobes.
			bin := filepath.Join(dir, "tracefs.test")
			if err := BuildTestBinary(ctx, root, "./record/internal/tracefs", a.GOARCH, bin, "kpcapvm"); err != nil {
				return "", err
			}
			ir.Bins = append(ir.Bins, bin)
		}
	}
	initrd := filepath.Join(dir, "initrd.gz")
	if err := ir.Pack(ctx, initrd); err != nil {
		return "", err
	}
	return initrd, nil
}

// replayBoots re-reads the job channels kept by an earlier run (the
// directory TestMain names when KPCAP_VMTEST_KEEP is set or a test failed):
// a developer knob to iterate on host-side assertions without booting.
func replayBoots(dir string) (*bootResults, error) {
	br := &bootResults{res: map[string]*Result{}, errs: map[string]error{}}
	for _, k := range selectedKernels() {
		serial, err := os.ReadFile(filepath.Join(dir, k.Name, "serial.txt"))
		if err != nil {
			return nil, err
		}
		res := &Result{Jobs: map[string]*JobResult{}}
		if err := parseSerial(serial, filepath.Join(workDir, k.Name), res); err != nil {
			br.errs[k.Name] = fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		br.res[k.Name] = res
	}
	return br, nil
}

type bootResults struct {
	res  map[string]*Result
	errs map[string]error
}

// forEachKernel runs fn as a subtest per kernel with that kernel's result for
// job, skipping jobs not selected by KPCAP_VMTEST_JOBS.
func forEachKernel(t *testing.T, job string, fn func(t *testing.T, k Kernel, res *Result, j *JobResult)) {
	t.Helper()
	requireVMTools(t)
	if !contains(selectedJobs(), job) {
		t.Skipf("job %s not selected by KPCAP_VMTEST_JOBS", job)
	}
	br, err := bootAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range selectedKernels() {
		if k.Jobs != nil && !contains(k.Jobs, job) {
			continue
		}
		t.Run(k.Name, func(t *testing.T) {
			if err := br.errs[k.Name]; err != nil {
				t.Fatal(err)
			}
			res := br.res[k.Name]
			j := res.Jobs[job]
			if j == nil {
				t.Fatalf("job %s did not run on %s (ran: %v)", job, res.Release, res.Order)
			}
			t.Logf("kernel %s: boot %.1fs, job %s %.1fs, VM wall %v", res.Release, res.BootTime, job, j.Seconds, res.Wall.Round(time.Millisecond))
			fn(t, k, res, j)
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
