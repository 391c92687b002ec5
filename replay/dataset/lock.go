package dataset

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// An export names its temporary files after a random token of its process
// (".part-ID.parquet.TOKEN.tmp") and holds an exclusive lock on
// DIR/.kpcap-export-TOKEN.lock while it runs. The kernel drops the lock
// when the process ends, however it ends, so a temporary file whose
// token's lock can be taken belongs to an export that is gone: Init removes
// those. A token, not the pid, so that exports on several hosts sharing
// the dataset never take each other's names.
var procToken = newToken()

func newToken() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("dataset: no random token: %v", err)) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b[:])
}

const (
	lockPrefix = ".kpcap-export-"
	lockSuffix = ".lock"
	tmpSuffix  = ".tmp"
)

// errLocked is returned by tryLock when another process holds the lock.
var errLocked = errors.New("locked by a running export")

// tmpName is the hidden temporary name of the dataset file final.
func tmpName(final string) string {
	return filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+"."+procToken+tmpSuffix)
}

// tmpToken returns the token of a temporary file name, false for other
// names (and for the pid-named ones of earlier versions, which nothing
// proves abandoned).
func tmpToken(name string) (string, bool) {
	if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, tmpSuffix) {
		return "", false
	}
	rest := strings.TrimSuffix(name, tmpSuffix)
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || !isToken(rest[i+1:]) {
		return "", false
	}
	return rest[i+1:], true
}

func isToken(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

var (
	locksMu sync.Mutex
	locks   = map[string]*os.File{} // dataset dir (absolute) → this process's lock
)

// holdLock takes this process's export lock in dir, once per process.
func holdLock(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	locksMu.Lock()
	defer locksMu.Unlock()
	if locks[abs] != nil {
		return nil
	}
	p := filepath.Join(abs, lockPrefix+procToken+lockSuffix)
	for range 3 {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("export lock: %w", err)
		}
		if err := tryLock(f); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			f.Close()
			return fmt.Errorf("export lock %s: %w", p, err)
		}
		// Another export's cleanup may have taken the new file for a dead
		// one's and removed it before the lock: then lock a new one.
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(p)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			locks[abs] = f
			return nil
		}
		f.Close()
	}
	return fmt.Errorf("export lock %s: removed as soon as created", p)
}

// Release drops this process's export lock in dir and removes its lock
// file; the next export would remove it anyway. Exporting to dir again
// takes a new lock.
func Release(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	locksMu.Lock()
	defer locksMu.Unlock()
	f := locks[abs]
	if f == nil {
		return nil
	}
	delete(locks, abs)
	f.Close()
	return os.Remove(f.Name())
}

// removeStale removes the temporary files of exports that are gone (their
// lock can be taken) and their lock files, and returns how many temporary
// files it removed. Files it cannot prove abandoned stay.
func removeStale(dir string) (int, error) {
	byToken := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // a directory being created or removed meanwhile
		}
		name := d.Name()
		if d.IsDir() {
			return nil
		}
		if tok, ok := tmpToken(name); ok && tok != procToken {
			byToken[tok] = append(byToken[tok], p)
		}
		if filepath.Dir(p) == filepath.Clean(dir) && strings.HasPrefix(name, lockPrefix) && strings.HasSuffix(name, lockSuffix) {
			tok := strings.TrimSuffix(strings.TrimPrefix(name, lockPrefix), lockSuffix)
			if _, seen := byToken[tok]; !seen && isToken(tok) && tok != procToken {
				byToken[tok] = nil // a lock file, perhaps without temporary files
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for tok, files := range byToken {
		lf, err := os.OpenFile(filepath.Join(dir, lockPrefix+tok+lockSuffix), os.O_RDWR, 0)
		if err != nil {
			continue // no lock file: nothing proves its export gone
		}
		if tryLock(lf) != nil {
			lf.Close() // its export runs (or locks are unsupported here)
			continue
		}
		for _, p := range files {
			if os.Remove(p) == nil {
				removed++
			}
		}
		lf.Close()
		os.Remove(lf.Name())
	}
	return removed, nil
}
