package cli

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/livemetrics"
	"github.com/kbench/kbench/bench/sweep"
)

const metricsListenHelp = "serve the generator's live Prometheus metrics (rates, errors, consumer lag, latency histograms, CPU) on /metrics at this address while it runs, e.g. 127.0.0.1:9405"

// startLiveMetrics serves an exporter labelled run="run" on addr (nothing
// when addr is empty) until ctx ends, and says where on w.
func startLiveMetrics(ctx context.Context, addr, run string, w io.Writer) (*livemetrics.Exporter, error) {
	if addr == "" {
		return nil, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("--metrics-listen %q: want host:port, like 127.0.0.1:9405: %w", addr, err)
	}
	exp := livemetrics.New(run)
	reg := prometheus.NewRegistry()
	reg.MustRegister(exp, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "kbench_generator"}), collectors.NewGoCollector())
	bound, err := livemetrics.Serve(ctx, addr, reg)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	fmt.Fprintf(w, "live metrics on http://%s/metrics (run=%q)\n", bound, run)
	return exp, nil
}

// sink is the exporter as a run's sink (nil without --metrics-listen).
func liveSink(exp *livemetrics.Exporter) bench.Sink {
	if exp == nil {
		return nil
	}
	return exp
}

// sweepProgress feeds a sweep's intervals to the exporter, labelled by the
// point being run, before passing every event on.
func sweepProgress(exp *livemetrics.Exporter, next sweep.Progress) sweep.Progress {
	if exp == nil {
		return next
	}
	return sweep.ProgressFunc(func(ev sweep.Event) {
		switch ev.Kind {
		case sweep.RunStarted:
			if ev.Point != nil {
				exp.SetPoint(ev.Point.ID)
			}
		case sweep.IntervalDone:
			if ev.Interval != nil {
				exp.Interval(ev.Interval)
			}
		}
		if next != nil {
			next.Event(ev)
		}
	})
}
