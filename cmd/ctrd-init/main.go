// Command ctrd-init is the minimal init that `ctr run --init` puts in front
// of a container's command as PID 1: it forwards signals to the command,
// reaps orphaned processes, and exits with the command's status. It is
// built static (no cgo) so that it runs in any image.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "ctrd-init: usage: ctrd-init -- COMMAND [ARG...]")
		os.Exit(127)
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The command gets the terminal's foreground process group when it has
	// one, so job control and ^C work as without an init.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: isTerminal(0), Ctty: 0}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "ctrd-init: %v\n", err)
		if os.IsPermission(err) {
			os.Exit(126)
		}
		os.Exit(127)
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			_ = syscall.Kill(child, sig.(syscall.Signal))
			continue
		}
		// Reap everything that exited; end with the command.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child {
				if ws.Signaled() {
					os.Exit(128 + int(ws.Signal()))
				}
				os.Exit(ws.ExitStatus())
			}
		}
	}
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
