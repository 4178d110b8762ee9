package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench"
)

func newConsumeCmd(stdout, stderr io.Writer) *cobra.Command {
	return newLoadCmd(bench.ModeConsume, stdout, stderr)
}
