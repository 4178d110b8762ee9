package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench"
)

func newE2ECmd(stdout, stderr io.Writer) *cobra.Command {
	return newLoadCmd(bench.ModeE2E, stdout, stderr)
}
