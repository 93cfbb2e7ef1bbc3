//go:build !linux

package redisproc

import "os/exec"

// dieWithParent: without Linux's parent-death signal, an orphaned server is
// found by its pid file and stopped at the next start (own.go).
func dieWithParent(*exec.Cmd) {}
