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
	"syscall"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/version"
	"github.com/spf13/cobra"
)

// CLI holds what every command needs: streams and the daemon address.
type CLI struct {
	In       io.Reader
	Out, Err io.Writer
	Host     string
	client   *api.Client
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
	root := c.rootCommand()
	root.SetArgs(args)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if c.client != nil {
		c.client.Close()
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
	}
	host := os.Getenv("CTR_HOST")
	if host == "" {
		host = api.DefaultHost
	}
	root.PersistentFlags().StringVarP(&c.Host, "host", "H", host, "daemon socket to connect to (env CTR_HOST)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &StatusError{Status: fmt.Sprintf("ctr: %s (see '%s --help')", err, cmd.CommandPath()), Code: 125}
	})
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	root.AddCommand(
		c.versionCommand(),
		c.infoCommand(),
		c.importCommand(),
		c.imagesCommand(),
		c.tagCommand(),
		c.rmiCommand(),
		c.historyCommand(),
		c.inspectCommand(),
		c.createCommand(),
		c.runCommand(),
		c.startCommand(),
		c.attachCommand(),
		c.execCommand(),
		c.psCommand(),
		c.stopCommand(),
		c.restartCommand(),
		c.killCommand(),
		c.rmCommand(),
		c.waitCommand(),
		c.renameCommand(),
		c.pauseCommand(true),
		c.pauseCommand(false),
		c.updateCommand(),
		c.topCommand(),
		c.diffCommand(),
		c.logsCommand(),
		c.commitCommand(),
		c.buildCommand(),
		c.volumeCommand(),
		c.networkCommand(),
		c.portCommand(),
	)
	return root
}

// Client dials the daemon once per invocation.
func (c *CLI) Client(ctx context.Context) (*api.Client, error) {
	if c.client != nil {
		return c.client, nil
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
