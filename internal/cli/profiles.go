package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/profiles"
)

func newProfilesCmd(stdout, _ io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List and show the built-in sweep profiles",
		Long: `Sweep profiles are YAML: target, topic, producer and consumer properties, workload, rate,
SLO, repeat, axes and exclude rules ("kbench profiles schema" lists every field). The
built-in ones ship inside kbench; copy one with "kbench profiles show NAME > mine.yaml" to
start your own, and run it with "kbench sweep --profile ./mine.yaml".`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in profiles with their size and estimated duration",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return listProfiles(stdout)
		},
	}, &cobra.Command{
		Use:   "schema",
		Short: "Print every profile field with an example value",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := io.WriteString(stdout, profiles.SchemaIntro+profiles.SchemaExample+profiles.SchemaOutro)
			return err
		},
	}, &cobra.Command{
		Use:   "show NAME|PATH",
		Short: "Print a profile's YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return showProfile(stdout, args[0])
		},
	})
	return cmd
}

func listProfiles(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tpoints\testimated\tdescription")
	for _, name := range profiles.Names() {
		p, err := profiles.Load(name, nil)
		if err != nil {
			return fmt.Errorf("built-in profile %s: %w", name, err)
		}
		_, total, _ := sweep.Estimate(p)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", name, len(p.Points), total.Round(1e9), p.Description)
	}
	return tw.Flush()
}

// showProfile prints the YAML as written (it loads it first, so a broken
// file is reported rather than shown).
func showProfile(w io.Writer, nameOrPath string) error {
	p, err := profiles.Load(nameOrPath, nil)
	if err != nil {
		return err
	}
	_, total, _ := sweep.Estimate(p)
	text := p.YAML
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	_, err = fmt.Fprintf(w, "%s# %s: %d points, estimated %s; kbench sweep --profile %s --dry-run lists them\n",
		text, p.Source, len(p.Points), total.Round(1e9), nameOrPath)
	return err
}
