// Command ctrd-shim is the per-container shim of ctrd ("ctrd-shim shim ...")
// and, re-executed by libcontainer, the container's init ("ctrd-shim
// init"). ctrd can run both modes itself; this binary links only the
// runtime, so the two executions on every container start skip the
// daemon's package initialisation and each shim maps less memory.
package main

import (
	"fmt"
	"os"

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
	fmt.Fprintln(os.Stderr, "ctrd-shim is started by ctrd; it is not a command to run by hand")
	os.Exit(2)
}
