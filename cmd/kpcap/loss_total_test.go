//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestLossTotalSameEverywhere records with real loss (a one-page ring per
// CPU under a syscall burst, several sources sharing it) and checks that
// record's summary, info, replay and analyze summary report one total,
// and that each one's per-source losses add up to it.
func TestLossTotalSameEverywhere(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	trace := filepath.Join(t.TempDir(), "loss.pcapng.zst")
	var stdout, stderr bytes.Buffer
	rec := exec.Command(bin, "record", "--json", "--buffer-size", "4K", "-o", trace,
		"-e", "syscalls:sys_enter_getppid", "-e", "syscalls:sys_exit_getppid", "-e", "sched:sched_switch")
	rec.Stdout, rec.Stderr = &stdout, &stderr
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !bytes.Contains(stderr.Bytes(), []byte("recording")) {
		if time.Now().After(deadline) {
			rec.Process.Kill()
			rec.Wait()
			t.Fatalf("record never started: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	getppids(300000)
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil {
		t.Fatalf("record: %v: %s", err, stderr.String())
	}
	var summary struct {
		Lost    uint64 `json:"lost"`
		Sources []struct {
			Lost uint64 `json:"lost"`
		} `json:"sources"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &summary); err != nil {
		t.Fatalf("record --json: %v: %s", err, stdout.String())
	}
	total := summary.Lost
	if total == 0 {
		t.Fatalf("no loss with a 4 KiB ring under a burst of 300000 syscalls: %s", stdout.String())
	}
	// Per-source losses add up to the total, or less when the kernel's
	// ring reports name no source and exceed the sources' counters (it
	// lost task records too); every command shows the same split.
	var recSources uint64
	for _, s := range summary.Sources {
		recSources += s.Lost
	}
	if recSources > total || recSources == 0 {
		t.Errorf("record: sources lost %d, total %d", recSources, total)
	}
	var perSource uint64

	out, errs, code := runBin(t, bin, "info", "--json", trace)
	if code != 0 {
		t.Fatalf("info: %d: %s", code, errs)
	}
	var info struct {
		Lost   uint64 `json:"lost"`
		Probes []struct {
			Lost uint64 `json:"lost"`
		} `json:"probes"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	perSource = 0
	for _, p := range info.Probes {
		perSource += p.Lost
	}
	if info.Lost != total || perSource != recSources {
		t.Errorf("info: lost %d (sources %d), record said %d", info.Lost, perSource, total)
	}

	_, errs, code = runBin(t, bin, "replay", "-o", os.DevNull, trace)
	m := regexp.MustCompile(`the capture lost (\d+) samples`).FindStringSubmatch(errs)
	if code != 0 || m == nil || m[1] != strconv.FormatUint(total, 10) {
		t.Errorf("replay: code %d, warning %q, record said %d", code, errs, total)
	}

	out, errs, code = runBin(t, bin, "analyze", "summary", "--json", trace)
	if code != 0 {
		t.Fatalf("analyze summary: %d: %s", code, errs)
	}
	var sum struct {
		Lost    uint64 `json:"lost"`
		Sources []struct {
			Lost uint64 `json:"lost"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	perSource = 0
	for _, s := range sum.Sources {
		perSource += s.Lost
	}
	if sum.Lost != total || perSource != recSources {
		t.Errorf("analyze summary: lost %d (sources %d), record said %d", sum.Lost, perSource, total)
	}
	t.Logf("lost %d everywhere, %d of them named by source", total, recSources)
}
