package redisproc

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel send the child SIGTERM when the process that
// started it dies, even by kill -9 (Linux prctl PR_SET_PDEATHSIG).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
