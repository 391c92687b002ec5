//go:build linux

package record

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// TestInitialComms checks that the threads alive when recording starts
// are named in the file: all of them system-wide, the target's with -p.
func TestInitialComms(t *testing.T) {
	requireRoot(t)
	self := os.Getpid()
	tids, err := threadsOf(self)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{1: readComm(t, 1, 1)} // init, system-wide only
	for _, tid := range tids {
		want[uint32(tid)] = readComm(t, self, tid)
	}
	for _, pid := range []int{0, self} {
		t.Run("pid="+strconv.Itoa(pid), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "c.pcapng.zst")
			_, err := runDirect(context.Background(), Options{PID: pid, Output: out, Duration: 50 * time.Millisecond},
				tracepointSource(t, "syscalls", "sys_enter_getppid"))
			if err != nil {
				t.Fatal(err)
			}
			f, err := format.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got := map[uint32]format.Comm{}
			for _, c := range f.Comms {
				if _, ok := got[c.TID]; !ok {
					got[c.TID] = c
				}
			}
			for tid, name := range want {
				if tid == 1 && pid != 0 {
					if _, ok := got[1]; ok {
						t.Errorf("-p %d: pid 1 named too", pid)
					}
					continue
				}
				c, ok := got[tid]
				if !ok || c.Comm != name {
					t.Errorf("tid %d: named %q (%v), want %q", tid, c.Comm, ok, name)
				}
				if tid != 1 && c.PID != uint32(self) {
					t.Errorf("tid %d: pid %d, want %d", tid, c.PID, self)
				}
			}
			if pid == 0 && len(got) < 10 {
				t.Errorf("system-wide: only %d threads named", len(got))
			}
		})
	}
}

func readComm(t *testing.T, pid, tid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}
