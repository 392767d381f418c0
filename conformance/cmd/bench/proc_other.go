//go:build !linux

package main

import (
	"os"
	"syscall"
	"time"
)

// The benchmark measures CPU and memory with Linux interfaces; elsewhere
// it still runs, and reports zeros for what it cannot see.

func childSysProcAttr() *syscall.SysProcAttr { return nil }

func processUsage(ps *os.ProcessState) (time.Duration, int64) {
	return ps.UserTime() + ps.SystemTime(), 0
}

func selfCPU() time.Duration { return 0 }

func selfPeakRSSKiB() int64 { return 0 }

func selfRSSSplitKiB() (anon, file int64) { return 0, 0 }

func resetPeakRSS() {}

func fsKind(string) string { return "unknown file system" }
