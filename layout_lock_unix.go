//go:build unix

package azacr

import (
	"os"
	"syscall"
)

// noFollow makes an open of a layout's work file refuse a symbolic link:
// a layout directory another user can write must not be able to point a
// partial download, or a lock, at a file of ours elsewhere.
const noFollow = syscall.O_NOFOLLOW

// lockFile takes an exclusive lock on path (created when absent) and
// returns its release. The lock is flock(2)'s: held by an open file, so it
// is released when the process dies, even by kill -9, and two opens in one
// process exclude each other too.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|noFollow, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// tryLockFile is lockFile without waiting: ok is false when another holds
// the lock.
func tryLockFile(f *os.File) (ok bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}

// releaseFileLock ends tryLockFile's hold on f; closing f does it too.
func releaseFileLock(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
