//go:build race

package main

// raceEnabled: the race detector's shadow memory multiplies a process's
// RSS, and the smoke test's children are this race-instrumented binary.
const raceEnabled = true
