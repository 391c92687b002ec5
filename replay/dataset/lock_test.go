package dataset

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain runs this test binary as an export process of its own when
// KPCAP_DATASET_HELPER says so: "export DIR TRACE" exports a trace as
// kpcap export does, "hold DIR" takes an export's lock, starts a temporary
// file and waits for stdin to close.
func TestMain(m *testing.M) {
	if h := os.Getenv("KPCAP_DATASET_HELPER"); h != "" {
		os.Exit(helper(strings.Fields(h)))
	}
	os.Exit(m.Run())
}

func helper(args []string) int {
	switch args[0] {
	case "export":
		if _, err := Init(args[1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := Export(args[1], args[2], Options{Workers: 1}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "hold":
		// An export that started before the other one was killed: its
		// lock, no cleanup of its own.
		if err := holdLock(args[1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tx := &commit{dir: args[1]}
		f, err := tx.create("events/kernel=k/host=h/source=s/part-live.parquet")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		fmt.Println(f.Name())
		bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	}
	return 0
}

// tmpFiles lists the hidden temporary files under dir.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".tmp") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// killedExport starts a real export of trace into dir in another process
// and kills it once it has temporary files, returning them.
func killedExport(t *testing.T, dir, trace string) []string {
	t.Helper()
	for range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KPCAP_DATASET_HELPER=export "+dir+" "+trace)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var tmps []string
		for start := time.Now(); time.Since(start) < time.Minute && len(tmps) == 0; time.Sleep(time.Millisecond) {
			tmps = tmpFiles(t, dir)
		}
		cmd.Process.Kill()
		cmd.Wait()
		if tmps = tmpFiles(t, dir); len(tmps) > 0 {
			return tmps
		}
		// The export finished (or never started a file) before the kill.
		os.RemoveAll(dir)
	}
	t.Fatal("the export was never killed while writing")
	return nil
}

// A killed export's temporary files are removed by the next Init, and a
// running export's stay: it holds its lock.
func TestInitRemovesKilledExportFiles(t *testing.T) {
	trace := benchTrace(t, 1_000_000, "killed")
	dir := filepath.Join(t.TempDir(), "ds")
	killed := killedExport(t, dir, trace)

	live := exec.Command(os.Args[0], "-test.run=^$")
	live.Env = append(os.Environ(), "KPCAP_DATASET_HELPER=hold "+dir)
	stdin, err := live.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := live.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer live.Wait()
	defer stdin.Close()
	liveTmp, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("live export: %v", err)
	}
	liveTmp = strings.TrimSpace(liveTmp)

	removed, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	left := tmpFiles(t, dir)
	if removed != len(killed) || len(left) != 1 || left[0] != liveTmp {
		t.Fatalf("Init removed %d of the killed export's %d temporary files; left %q, want only the live export's %s",
			removed, len(killed), left, liveTmp)
	}
	locks, _ := filepath.Glob(filepath.Join(dir, lockPrefix+"*"))
	if len(locks) != 2 { // the live export's and this process's
		t.Errorf("lock files: %q, want the live export's and this process's", locks)
	}
	// The dataset still takes the trace whole.
	res, err := Export(dir, samples[0], Options{})
	if err != nil || res.Skipped || res.Events == 0 {
		t.Fatalf("export after the cleanup: %+v, %v", res, err)
	}
}
