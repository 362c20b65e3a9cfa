// Package cli is the `ctr` command line: one file per command group, Docker's
// verbs, flags, table columns and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/version"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// CLI holds what every command needs: streams and the daemon address.
type CLI struct {
	In       io.Reader
	Out, Err io.Writer
	Host     string
	client   *api.Client
	// early is the connection begun as ctr started (see dialEarly).
	early *earlyDial

	// flagDefs defines each command's own flags, see lazyFlags.
	flagDefs map[*cobra.Command]func(*pflag.FlagSet)
	// stopSignals ends the handling of interrupts, see rootCommand.
	stopSignals func()
}

// StatusError carries a command's exit code (e.g. a container's).
type StatusError struct {
	Status  string
	Code    int
	Silence bool // the message was already printed
}

func (e *StatusError) Error() string { return e.Status }

// Main runs ctr with args and returns the process exit code.
func Main(args []string) int {
	c := &CLI{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	word, hostGiven := commandWord(args)
	if !hostGiven {
		c.early = dialEarly(defaultHost())
	}
	if word == "run" || word == "create" {
		go warmCreate()
	}
	root := c.rootCommand()
	c.prepare(root, args)
	root.SetArgs(args)
	defer func() {
		if c.stopSignals != nil {
			c.stopSignals()
		}
	}()
	err := root.ExecuteContext(context.Background())
	if c.client != nil {
		c.client.Close()
	}
	if c.early != nil {
		c.early.close()
	}
	if err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		if !se.Silence && se.Status != "" {
			fmt.Fprintln(c.Err, se.Status)
		}
		return se.Code
	}
	var ue *api.UnreachableError
	if errors.As(err, &ue) {
		fmt.Fprintln(c.Err, err.Error())
		return 1
	}
	fmt.Fprintln(c.Err, "Error: "+errdefs.Message(err))
	return 1
}

func (c *CLI) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "ctr [OPTIONS] COMMAND",
		Short:         "A Docker-compatible client for the ctrd container daemon",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// An interrupt cancels the running command's context (an RPC
		// under way, an attached session) instead of killing ctr. It is
		// set up when a command runs, not for help or a usage error.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			cmd.SetContext(ctx)
			c.stopSignals = stop
			return nil
		},
	}
	root.PersistentFlags().StringVarP(&c.Host, "host", "H", defaultHost(), "daemon socket to connect to (env CTR_HOST)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &StatusError{Status: fmt.Sprintf("ctr: %s (see '%s --help')", err, cmd.CommandPath()), Code: 125}
	})
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	return root
}

// command is one of ctr's commands, named (with its aliases) as cobra
// matches it, and the function that builds it in full.
type command struct {
	name    string
	aliases []string
	build   func() *cobra.Command
}

// commands lists ctr's commands (help shows them sorted by name).
func (c *CLI) commands() []command {
	return []command{
		{"version", nil, c.versionCommand},
		{"info", nil, c.infoCommand},
		{"import", nil, c.importCommand},
		{"images", []string{"image ls"}, c.imagesCommand},
		{"tag", nil, c.tagCommand},
		{"rmi", nil, c.rmiCommand},
		{"history", nil, c.historyCommand},
		{"inspect", nil, c.inspectCommand},
		{"create", nil, c.createCommand},
		{"run", nil, c.runCommand},
		{"start", nil, c.startCommand},
		{"attach", nil, c.attachCommand},
		{"exec", nil, c.execCommand},
		{"ps", []string{"container ls"}, c.psCommand},
		{"stop", nil, c.stopCommand},
		{"restart", nil, c.restartCommand},
		{"kill", nil, c.killCommand},
		{"rm", nil, c.rmCommand},
		{"wait", nil, c.waitCommand},
		{"rename", nil, c.renameCommand},
		{"pause", nil, func() *cobra.Command { return c.pauseCommand(true) }},
		{"unpause", nil, func() *cobra.Command { return c.pauseCommand(false) }},
		{"update", nil, c.updateCommand},
		{"top", nil, c.topCommand},
		{"diff", nil, c.diffCommand},
		{"logs", nil, c.logsCommand},
		{"commit", nil, c.commitCommand},
		{"build", nil, c.buildCommand},
		{"volume", nil, c.volumeCommand},
		{"network", nil, c.networkCommand},
		{"port", nil, c.portCommand},
	}
}

// lazyFlags records how cmd's own flags are defined. Defining a flag costs
// allocations (a string array's default is even written as CSV), which
// every ctr process would pay for every command's flags at start; only the
// command that runs needs its own, see prepare.
func (c *CLI) lazyFlags(cmd *cobra.Command, define func(f *pflag.FlagSet)) {
	if c.flagDefs == nil {
		c.flagDefs = make(map[*cobra.Command]func(*pflag.FlagSet))
	}
	c.flagDefs[cmd] = define
}

// prepare adds to root what running args needs. Cobra has every command
// built in full at each start; ctr builds what args need. When args name a
// command (as cobra will find it), only that one is built, with only its own
// flags (the root's and a group's are defined eagerly: finding a command
// reads them), and cobra's default `completion` command, which only the
// root's help lists, is left out. Otherwise (the root's help, help COMMAND,
// shell completion, an unknown command: cobra resolves them later and may
// look at any command) everything is built.
func (c *CLI) prepare(root *cobra.Command, args []string) {
	cmds := c.commands()
	// Find the command as cobra will, with one stand-in answering to every
	// name: the name is the argument that Find takes out of args.
	var names []string
	for _, e := range cmds {
		names = append(append(names, e.name), e.aliases...)
	}
	stub := &cobra.Command{Use: names[0], Aliases: names[1:]}
	root.AddCommand(stub)
	found, rest, err := root.Find(args)
	root.RemoveCommand(stub)
	if err == nil && found == stub && len(rest) == len(args)-1 {
		i := 0
		for i < len(rest) && rest[i] == args[i] {
			i++
		}
		for _, e := range cmds {
			if e.name == args[i] || slices.Contains(e.aliases, args[i]) {
				root.AddCommand(e.build())
			}
		}
		if cmd, _, err := root.Find(args); err == nil {
			if define := c.flagDefs[cmd]; define != nil {
				define(cmd.Flags())
			}
		}
		root.CompletionOptions.DisableDefaultCmd = true
		return
	}
	for _, e := range cmds {
		root.AddCommand(e.build())
	}
	if err != nil || found != root {
		for cmd, define := range c.flagDefs {
			define(cmd.Flags())
		}
	}
}

func defaultHost() string {
	if host := os.Getenv("CTR_HOST"); host != "" {
		return host
	}
	return api.DefaultHost
}

// Client dials the daemon once per invocation, or takes the connection
// dialled as ctr started.
func (c *CLI) Client(ctx context.Context) (*api.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	if e := c.early; e != nil && e.host == c.Host {
		c.early = nil
		if cl, err := e.take(ctx); err == nil {
			c.client = cl
			return cl, nil
		}
		// Dial again: the daemon may have come up meanwhile, and a
		// failure is reported for this dial, as without the early one.
	}
	cl, err := api.Dial(ctx, c.Host)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

// exactArgs is cobra.ExactArgs with Docker's wording.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(cmd, fmt.Sprintf("requires exactly %d argument%s", n, plural(n)))
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError(cmd, fmt.Sprintf("requires at least %d argument%s", n, plural(n)))
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError(cmd, fmt.Sprintf("requires at least %d and at most %d arguments", lo, hi))
		}
		return nil
	}
}

func usageError(cmd *cobra.Command, msg string) error {
	return &StatusError{
		Status: fmt.Sprintf("\"%s\" %s (usage: %s)", cmd.CommandPath(), msg, cmd.UseLine()),
		Code:   1,
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// daemonError wraps an error from the daemon in Docker's wording.
func daemonError(err error) error {
	if err == nil {
		return nil
	}
	var ue *api.UnreachableError
	if errors.As(err, &ue) {
		return err
	}
	return &StatusError{Status: "Error response from daemon: " + errdefs.Message(err), Code: 1}
}
