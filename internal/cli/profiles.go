package cli

import (
	"errors"
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
		Short: "List and show the built-in sweep profiles; convert OpenMessaging Benchmark workloads",
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
	}, newProfilesConvertCmd(stdout))
	return cmd
}

func newProfilesConvertCmd(stdout io.Writer) *cobra.Command {
	var omb, driver string
	cmd := &cobra.Command{
		Use:   "convert --omb WORKLOAD.yaml [--omb-driver DRIVER.yaml]",
		Short: "Write an OpenMessaging Benchmark workload (and Kafka driver) file as a kbench profile",
		Long: `Read an OpenMessaging Benchmark workload file and, optionally, its Kafka driver file, and
print the equivalent kbench profile (what kbench sweep --omb runs). Strict like a profile: an
unknown field is an error naming it, and a field kbench cannot honour (several topics or
subscriptions, a consumer backlog, ramped rates) is an error saying why. Where kbench reads a
field differently, a comment at the top of the profile says how. Payload file paths stay
relative to the workload file: save the profile beside it.`,
		Example: `  kbench profiles convert --omb workloads/1-topic-16-partitions-1kb.yaml --omb-driver driver-kafka/kafka-sync-all.yaml > omb-1kb.yaml
  kbench sweep --profile omb-1kb.yaml --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if omb == "" {
				return errors.New("give --omb WORKLOAD.yaml")
			}
			_, conv, err := profiles.LoadOMB(omb, driver, nil)
			if err != nil {
				return err
			}
			_, err = stdout.Write(conv.YAML)
			return err
		},
	}
	cmd.Flags().StringVar(&omb, "omb", "", "OpenMessaging Benchmark workload file")
	cmd.Flags().StringVar(&driver, "omb-driver", "", "OpenMessaging Benchmark Kafka driver file (replicationFactor, topicConfig, producerConfig, consumerConfig)")
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
	for _, name := range profiles.RebalanceNames() {
		p, err := profiles.LoadRebalance(name, nil)
		if err != nil {
			return fmt.Errorf("built-in profile %s: %w", name, err)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", name, len(p.Sizes)*len(p.Protocols)*len(p.Events), "≤ 10m", p.Description)
	}
	return tw.Flush()
}

// showProfile prints the YAML as written (it loads it first, so a broken
// file is reported rather than shown).
func showProfile(w io.Writer, nameOrPath string) error {
	if profiles.IsRebalance(nameOrPath) {
		p, err := profiles.LoadRebalance(nameOrPath, nil)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, p.YAML)
		return err
	}
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
