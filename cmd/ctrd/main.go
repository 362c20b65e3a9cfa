// Command ctrd is the ctrd daemon. The same binary also runs, hidden, as a
// container's init ("ctrd init", re-executed by libcontainer) and as a
// container's shim ("ctrd shim").
package main

import (
	"os"

	"github.com/ctrd/ctrd/daemon/command"
	"github.com/ctrd/ctrd/runtime"
	"github.com/ctrd/ctrd/runtime/shim"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			runtime.ContainerInit() // never returns
		case "shim":
			os.Exit(shim.Main(os.Args[2:]))
		}
	}
	os.Exit(command.Main(os.Args[1:]))
}
