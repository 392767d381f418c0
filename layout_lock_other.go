//go:build !unix

package azacr

import (
	"os"
	"sync"
)

// Without flock(2), layout locks exclude the goroutines of this process
// only: concurrent pulls into one layout from several processes are safe
// on Unix systems alone.
var (
	layoutLocksMu sync.Mutex
	layoutLocks   = map[string]*sync.Mutex{}
	heldFiles     = map[string]bool{}
)

func processLock(path string) *sync.Mutex {
	layoutLocksMu.Lock()
	defer layoutLocksMu.Unlock()
	m := layoutLocks[path]
	if m == nil {
		m = &sync.Mutex{}
		layoutLocks[path] = m
	}
	return m
}

// noFollow is 0: only Unix systems can refuse to open a symbolic link.
const noFollow = 0

// lockFile takes this process's lock on path and returns its release.
func lockFile(path string) (unlock func(), err error) {
	m := processLock(path)
	m.Lock()
	return m.Unlock, nil
}

// tryLockFile takes this process's lock on f's path without waiting; it
// is released when f is closed by the caller calling the returned
// release (see ingest).
func tryLockFile(f *os.File) (ok bool, err error) {
	layoutLocksMu.Lock()
	defer layoutLocksMu.Unlock()
	if heldFiles[f.Name()] {
		return false, nil
	}
	heldFiles[f.Name()] = true
	return true, nil
}

// releaseFileLock ends tryLockFile's hold on f.
func releaseFileLock(f *os.File) {
	layoutLocksMu.Lock()
	defer layoutLocksMu.Unlock()
	delete(heldFiles, f.Name())
}
