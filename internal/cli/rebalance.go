package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kbench/kbench/bench/rebalance"
	"github.com/kbench/kbench/bench/rebalance/measure"
	"github.com/kbench/kbench/profiles"
	"github.com/kbench/kbench/reports"
	"github.com/kbench/kbench/target"
)

// rebalanceManifest describes a rebalance sweep's run directory; its
// results.jsonl holds one rebalance.Row per measured event.
type rebalanceManifest struct {
	Schema   int                        `json:"schema"` // 1
	Kbench   string                     `json:"kbench_version"`
	Go       string                     `json:"go_version"`
	OS       string                     `json:"os"`
	Arch     string                     `json:"arch"`
	CPUs     int                        `json:"cpus"`
	Hostname string                     `json:"hostname"`
	Created  time.Time                  `json:"created"`
	Finished time.Time                  `json:"finished"`
	Status   string                     `json:"status"` // done, interrupted or failed
	Error    string                     `json:"error,omitempty"`
	Target   string                     `json:"target"`
	Profile  *profiles.RebalanceProfile `json:"profile"`
	Rows     int                        `json:"rows"`
	NotDone  int                        `json:"rows_not_converged"`
	Chart    string                     `json:"chart,omitempty"`
}

// runRebalanceSweep runs a rebalance profile: on --bootstrap, or on an
// embedded cluster started with the profile's consumer-group settings.
func runRebalanceSweep(ctx context.Context, o *sweepOptions) (err error) {
	if o.resume != "" || o.omb != "" || o.ombJSON != "" || o.commandConfig != "" || o.metricsListen != "" {
		return errors.New("a rebalance profile takes --set, --bootstrap, --dry-run and --out only (it runs in one go: no --resume)")
	}
	p, err := profiles.LoadRebalance(o.profile, o.set)
	if err != nil {
		return err
	}
	if o.dryRun {
		n := len(p.Sizes) * len(p.Protocols) * len(p.Events)
		fmt.Fprintf(o.stdout, "%s: %d measurements: group sizes %v × protocols %v × events %v; session %v, heartbeat %v, settle %v, timeout %v each\n",
			p.Name, n, p.Sizes, p.Protocols, p.Events, p.Session, p.Heartbeat, p.Settle, p.Timeout)
		return nil
	}
	dir := o.out
	if dir == "" {
		dir = filepath.Join("runs", time.Now().Format("20060102-150405")+"-"+p.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	to := target.Options{Bootstrap: o.bootstrap, Purpose: "rebalance sweep"}
	if o.bootstrap == "" {
		to.Brokers, to.BrokerArgs = p.Brokers, p.BrokerArgs()
	}
	tg, err := target.Start(ctx, to)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := tg.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop target: %w", cerr)
		}
	}()
	host, _ := os.Hostname()
	m := &rebalanceManifest{Schema: 1, Kbench: o.version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Hostname: host, Created: time.Now(), Status: "running", Target: tg.Describe(), Profile: p}
	res, err := os.Create(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return err
	}
	defer res.Close()
	fmt.Fprintf(o.stderr, "rebalance sweep on %s; results in %s\n", tg.Describe(), dir)
	var rows []rebalance.Row
	opts := p.SweepOptions
	opts.Bootstrap = tg.Bootstrap()
	opts.Logf = func(format string, args ...any) { fmt.Fprintf(o.stderr, format+"\n", args...) }
	runErr := measure.Sweep(ctx, opts, func(r rebalance.Row) {
		rows = append(rows, r)
		if b, err := json.Marshal(r); err == nil {
			res.Write(append(b, '\n'))
		}
	})
	m.Finished, m.Rows, m.Status = time.Now(), len(rows), "done"
	for _, r := range rows {
		if !r.Done {
			m.NotDone++
		}
	}
	switch {
	case ctx.Err() != nil:
		m.Status = "interrupted"
	case runErr != nil:
		m.Status, m.Error = "failed", runErr.Error()
	}
	if len(rows) > 0 {
		if ch, cerr := reports.RebalanceChart(rows, dir); cerr == nil {
			m.Chart = ch.PNG
		} else if runErr == nil {
			runErr = cerr
		}
	}
	b, jerr := json.MarshalIndent(m, "", "  ")
	if jerr == nil {
		jerr = os.WriteFile(filepath.Join(dir, "manifest.json"), append(b, '\n'), 0o644)
	}
	if jerr != nil && runErr == nil {
		runErr = fmt.Errorf("manifest: %w", jerr)
	}
	writeRebalanceTable(o.stdout, rows)
	if m.Chart != "" {
		fmt.Fprintf(o.stdout, "\nchart: %s\n", m.Chart)
	}
	if runErr != nil {
		return runErr
	}
	if m.NotDone > 0 {
		return fmt.Errorf("%d of %d measurements did not converge (see the table and %s)", m.NotDone, len(rows), filepath.Join(dir, "results.jsonl"))
	}
	return nil
}

func writeRebalanceTable(w io.Writer, rows []rebalance.Row) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group size\tprotocol\tevent\tmembers before\tpartitions\trebalance s\tmoved\tdelivered again\tskipped\t")
	for _, r := range rows {
		t := fmt.Sprintf("%.2f", r.RebalanceS)
		if !r.Done {
			t = "not converged: " + strings.SplitN(r.Error, ":", 2)[0]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t\n", r.Size, r.Protocol, r.Event, r.Members, r.Partitions, t, r.Moved, r.Again, r.Skipped)
	}
	tw.Flush()
}
