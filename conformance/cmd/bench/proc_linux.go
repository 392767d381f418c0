//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// childSysProcAttr makes the kernel kill a child when the bench process
// dies, however it dies, so no registry or client outlives a crash.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processUsage returns a finished child's user+sys CPU time and its
// getrusage maxrss in KiB.
func processUsage(ps *os.ProcessState) (cpu time.Duration, maxRSSKiB int64) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss
}

// selfCPU returns this process's user+sys CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfPeakRSSKiB returns VmHWM, the peak resident set of this process's
// own address space. Unlike ru_maxrss it does not carry over the RSS of
// the parent that forked it: os/exec forks with CLONE_VM, and Linux
// credits the pre-exec (parent's) address space to the child's maxrss.
func selfPeakRSSKiB() int64 { return statusKiB("VmHWM:") }

// selfRSSSplitKiB returns the current anonymous (heap, stacks) and
// file-backed (the executable's own pages) parts of the RSS: a large
// binary's code pages count towards RSS as they are first run.
func selfRSSSplitKiB() (anon, file int64) {
	return statusKiB("RssAnon:"), statusKiB("RssFile:")
}

func statusKiB(key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(string(f[0]), 10, 64)
		return n
	}
	return 0
}

// resetPeakRSS lowers VmHWM to the current RSS, so the registry can report
// its peak per operation rather than since it started.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// fsKind names the file system holding dir, for the table headings: on a
// disk the registry's fsync per request shows in the results, on tmpfs it
// does not.
func fsKind(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown file system"
	}
	switch st.Type {
	case 0x01021994:
		return "tmpfs"
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794C7630:
		return "overlayfs"
	}
	return fmt.Sprintf("file system 0x%x", st.Type)
}
