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
	heldFiles     = map[string]bool{}
)

// noFollow is 0: only Unix systems can refuse to open a symbolic link.
const noFollow = 0

// noBlock is 0 where O_NONBLOCK does not exist.
const noBlock = 0

// sharedLinks cannot tell hard links apart here.
func sharedLinks(os.FileInfo) bool { return false }

// tryLockFile takes this process's lock on f's path without waiting;
// releaseFileLock ends it.
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
