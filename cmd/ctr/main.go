//go:debug updatemaxprocs=0

// Command ctr is the command line client of ctrd.
//
// The go:debug line above spares each start the runtime's periodic
// GOMAXPROCS updates (a goroutine and sysmon work), of no use to a
// short-lived client.
package main

import (
	"os"

	"github.com/ctrd/ctrd/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
