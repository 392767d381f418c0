package azacr

import (
	"os"
	"strconv"
)

// reopenFile opens the file f refers to once more, as a new open file
// description with an offset of its own (a dup would share f's). Through
// /proc this works for files since renamed or unlinked, and checks read
// permission on the file itself.
func reopenFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd uintptr
	if err := rc.Control(func(d uintptr) { fd = d }); err != nil {
		return nil, err
	}
	return os.Open("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
}
