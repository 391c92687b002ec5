package kernelbtf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cilium/ebpf/btf"
)

// The few values kpcap derives from the kernel's BTF (type IDs, member
// offsets) are remembered in a file per kernel build, so that a
// recording on a kernel seen before does not decode its BTF at all: the
// decode is most of a BPF recording's start-up CPU. A kernel without a
// build ID, or no writable cache directory, only costs the decode.

// factsMu serializes the process's reads and writes of the facts file;
// other processes see it replaced whole (rename).
var factsMu sync.Mutex

// Remember fills v, a JSON-encodable value that derive computes from the
// running kernel's BTF, from the facts remembered under name for this
// kernel build, or else by derive on the decoded spec, remembering the
// result. A remembered value is trusted as derive's own: derive must
// return everything it reads. A failed decode says "kernel BTF: ...";
// derive's errors are returned as they are.
func Remember(name string, v any, derive func(*btf.Spec) error) error {
	path := factsPath()
	if path != "" && readFact(path, name, v) == nil {
		return nil
	}
	spec, err := Spec()
	if err != nil {
		return fmt.Errorf("kernel BTF: %w", err)
	}
	if err := derive(spec); err != nil {
		return err
	}
	if path != "" {
		// A cache that cannot be written costs the next run the decode,
		// nothing else.
		_ = writeFact(path, name, v)
	}
	return nil
}

// CacheEnv names the environment variable of kpcap's cache directory
// (default: os.UserCacheDir()/kpcap, ~/.cache/kpcap), as record/vmtest
// reads it.
const CacheEnv = "KPCAP_CACHE"

// factsPath returns the facts file of the running kernel, "" when it
// cannot have one.
func factsPath() string {
	id, err := kernelBuildID()
	if err != nil {
		return ""
	}
	dir := os.Getenv(CacheEnv)
	if dir == "" {
		if dir, err = os.UserCacheDir(); err != nil {
			return ""
		}
		dir = filepath.Join(dir, "kpcap")
	}
	return filepath.Join(dir, "btf-"+id+".json")
}

// errForeignFacts says a facts file could have been written by another
// user: kpcap runs as root and loads programs from what it holds.
var errForeignFacts = errors.New("kernelbtf: facts file not private to this user")

// readFact reads the fact name from the facts file at path into v.
func readFact(path, name string, v any) error {
	factsMu.Lock()
	defer factsMu.Unlock()
	facts, err := readFacts(path)
	if err != nil {
		return err
	}
	raw, ok := facts[name]
	if !ok {
		return fmt.Errorf("kernelbtf: no fact %q in %s", name, path)
	}
	return json.Unmarshal(raw, v)
}

// privateDir refuses the directory of the facts file at path when another
// user owns it or could write to it.
func privateDir(path string) error {
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return err
	}
	return checkPrivate(fi)
}

// readFacts reads the facts file at path, refusing one that another user
// owns or could write to, or that lies in such a directory.
func readFacts(path string) (map[string]json.RawMessage, error) {
	if err := privateDir(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkPrivate(fi); err != nil {
		return nil, err
	}
	facts := map[string]json.RawMessage{}
	if err := json.NewDecoder(f).Decode(&facts); err != nil {
		return nil, fmt.Errorf("kernelbtf: %s: %w", path, err)
	}
	return facts, nil
}

// writeFact adds v under name to the facts file at path, replacing the
// file so that readers see the old facts or the new ones.
func writeFact(path, name string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	factsMu.Lock()
	defer factsMu.Unlock()
	facts, err := readFacts(path)
	if err != nil {
		facts = map[string]json.RawMessage{}
	}
	facts[name] = raw
	out, err := json.Marshal(facts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := privateDir(path); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".btf-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
