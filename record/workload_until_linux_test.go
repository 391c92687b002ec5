//go:build linux

package record

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// untilGoneEnv names the file whose deletion ends the getppid-until
// workload, and callsEnv the file it writes its number of calls to.
const (
	untilGoneEnv = "KPCAP_TEST_UNTIL_GONE"
	callsEnv     = "KPCAP_TEST_CALLS"
)

// getppidUntil makes at least n getppid calls on that many threads, then
// goes on in batches until the file named by untilGoneEnv has appeared and
// been deleted (a rotated set pruned past it), or 20n calls were made, and
// writes the number of calls made to the file named by callsEnv. A
// recording whose tiny ring loses most samples writes as many bytes as the
// recorder gets CPU to read, not as many as calls are made: so a test
// needing enough files drives the calls by the files, not by a count.
func getppidUntil(n, threads int) {
	gone := os.Getenv(untilGoneEnv)
	var done atomic.Bool
	go func() {
		seen := false
		for !done.Load() {
			_, err := os.Stat(gone)
			seen = seen || err == nil
			if seen && os.IsNotExist(err) {
				done.Store(true)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	const batch = 10_000
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			for k := 0; k < 20*n/threads && (k < n/threads || !done.Load()); k += batch {
				for range batch {
					unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
				}
				calls.Add(batch)
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	if os.WriteFile(os.Getenv(callsEnv), []byte(strconv.FormatInt(calls.Load(), 10)), 0o644) != nil {
		os.Exit(98)
	}
	os.Exit(0)
}
