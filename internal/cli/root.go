// Package cli holds kbench's cobra commands. Each command's RunE only fills an
// options struct and calls its run function, which writes to injected writers.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is the kbench version, overridden at build time with -ldflags.
var Version = "dev"

// Main runs kbench with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(stderr, "kbench:", err)
		}
		return 1
	}
	return 0
}

// errSilent marks an error whose message was already printed.
var errSilent = errors.New("silent")

// signalContext is cancelled by the first SIGINT/SIGTERM; a second one exits
// the process at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
			return
		}
		select {
		case <-ch:
			fmt.Fprintln(os.Stderr, "kbench: second signal, exiting now")
			os.Exit(130)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// NewRoot builds the root command with every subcommand attached.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "kbench",
		Short:         "Kafka benchmark and performance-tuning workbench",
		Long:          "kbench benchmarks Kafka producers, consumers and brokers with coordinated-omission-correct\nlatency, sweeps settings, audits durability and writes capacity-planning reports.\nWithout --bootstrap it runs against its own embedded Kafka-compatible broker.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newBrokerCmd(stdout, stderr),
		newClusterCmd(stdout, stderr),
		newCodecsCmd(stdout, stderr),
		newProduceCmd(stdout, stderr),
		newConsumeCmd(stdout, stderr),
		newE2ECmd(stdout, stderr),
		newSelfbenchCmd(stdout, stderr),
		newSelftestAlias(stdout, stderr),
		newSweepCmd(stdout, stderr),
		newProfilesCmd(stdout, stderr),
		newReportCmd(stdout, stderr),
		newPlanCmd(stdout, stderr),
		newVerifyCmd(stdout, stderr),
		newABCmd(stdout, stderr),
		newCompareCmd(stdout, stderr),
		newAgentCmd(stdout, stderr),
	)
	return root
}
