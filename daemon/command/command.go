// Package command is ctrd's command line: flags, logging, signals.
package command

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ctrd/ctrd/daemon"
	"github.com/ctrd/ctrd/version"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// Main runs ctrd with args and returns its exit code.
func Main(args []string) int {
	var (
		flags      daemon.Config
		configFile string
	)
	cmd := &cobra.Command{
		Use:           "ctrd [OPTIONS]",
		Short:         "A lightweight container runtime daemon",
		Version:       version.Version,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := daemon.LoadConfig(configFile, !cmd.Flags().Changed("config"))
			if err != nil {
				return err
			}
			flags.Merge(file)
			if err := flags.Validate(); err != nil {
				return err
			}
			return run(flags)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", daemon.DefaultConfigFile, "daemon configuration file")
	f.StringVar(&flags.DataRoot, "data-root", "", "root of persistent state (default "+daemon.DefaultDataRoot+")")
	f.StringVar(&flags.ExecRoot, "exec-root", "", "root of runtime state (default "+daemon.DefaultExecRoot+")")
	f.StringArrayVarP(&flags.Hosts, "host", "H", nil, "socket to listen on (default "+daemon.DefaultHost+")")
	f.StringVarP(&flags.LogLevel, "log-level", "l", "", `log level: "debug", "info", "warn", "error", "fatal" (default "info")`)
	f.BoolVarP(&flags.Debug, "debug", "D", false, "enable debug mode")
	f.StringVar(&flags.Bridge, "bridge", "", "name of the default bridge (default ctr0)")
	f.StringVar(&flags.BIP, "bip", "", "address and subnet of the default bridge (default 10.88.0.1/16)")
	f.StringVar(&flags.CgroupParent, "cgroup-parent", "", "parent cgroup of containers (default /ctrd)")
	f.StringArrayVar(&flags.InsecureRegistries, "insecure-registry", nil, "registry reached over plain HTTP")
	f.StringArrayVar(&flags.RegistryMirrors, "registry-mirror", nil, "preferred mirror of docker.io")
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "ctrd: %v\n", err)
		return 1
	}
	return 0
}

func run(cfg daemon.Config) error {
	lvl, _ := logrus.ParseLevel(cfg.LogLevel)
	logrus.SetLevel(lvl)
	logrus.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339Nano})
	if os.Geteuid() != 0 {
		return fmt.Errorf("ctrd needs to run as root")
	}
	d, err := daemon.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigc
		logrus.WithField("signal", s).Info("shutting down; containers keep running")
		cancel()
	}()
	serveErr := d.Serve(ctx)
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	d.Shutdown(sctx)
	if serveErr != nil {
		return serveErr
	}
	logrus.Info("ctrd stopped")
	return nil
}
