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

// noBlock makes opening a FIFO return at once instead of waiting for a
// writer (it changes nothing for a regular file): a layout is a directory
// anybody may have written, and open(2) cannot be cancelled.
const noBlock = syscall.O_NONBLOCK

// sharedLinks reports whether the file info describes has other hard
// links: a work file linked to a file elsewhere would have a pull write
// there.
func sharedLinks(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1
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
