// Command ctr is the command line client of ctrd.
package main

import (
	"os"

	"github.com/ctrd/ctrd/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
