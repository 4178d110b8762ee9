package agent

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
)

// Options configure an agent.
type Options struct {
	// Name identifies the agent; two agents must not share one.
	Name string
	// Conn connects to the cluster holding the control topic (seed
	// brokers and security, from bench.RunConfig.ConnOptions).
	Conn []kgo.Opt
	// Client holds the connection and security properties the load's
	// clients use (client.properties); the coordinator's never travel.
	Client map[string]string
	// Topic is the control topic (default DefaultTopic).
	Topic   string
	Version string
	// Log receives a line per event (nil: discarded).
	Log io.Writer
	// IdleExit, if set, ends the agent after this long without a run, so
	// a batch job (a Kubernetes Job) completes when the benchmark is over.
	IdleExit time.Duration
}

func (o *Options) defaults() {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// job is the run an agent is busy with.
type job struct {
	id          string
	coordinator string
	cancel      context.CancelFunc
	done        chan struct{}
	drain       chan struct{} // closed when the coordinator says drain
	drainOnce   sync.Once
	lastCoord   time.Time // agent loop only
}

// Serve runs an agent until ctx ends: it beats on the control topic and
// runs the shares coordinators hand it, one at a time. A run in progress
// when ctx ends is stopped and its (interrupted) result still sent.
func Serve(ctx context.Context, o Options) error {
	o.defaults()
	if o.Name == "" || strings.HasPrefix(o.Name, coordinatorPrefix) {
		return fmt.Errorf("agent: name %q: want a non-empty name not starting with %q", o.Name, coordinatorPrefix)
	}
	host, _ := os.Hostname()
	ctl, err := dialControl(ctx, o.Conn, o.Topic, o.Name)
	if err != nil {
		return err
	}
	defer ctl.close()
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Log, "%s agent %s: %s\n", time.Now().Format("15:04:05.000"), o.Name, fmt.Sprintf(format, args...))
	}
	// Two agents of one name would both take that name's share: listen
	// for a beat first.
	deadline := time.Now().Add(2*Beat + 500*time.Millisecond)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		msgs, _ := ctl.poll(ctx, 250*time.Millisecond)
		for _, m := range msgs {
			if m.Kind == kindBeat && m.From == o.Name {
				return fmt.Errorf("agent: another agent named %s is running (host %s); give each agent its own --name", o.Name, m.Host)
			}
		}
	}
	logf("ready on control topic %s (host %s)", o.Topic, host)

	var mu sync.Mutex
	busy := ""
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	var beatWG sync.WaitGroup
	beatWG.Add(1)
	go func() {
		defer beatWG.Done()
		t := time.NewTicker(Beat)
		defer t.Stop()
		for {
			mu.Lock()
			b := busy
			mu.Unlock()
			if err := ctl.send(beatCtx, message{Kind: kindBeat, Host: host, Busy: b, Version: o.Version}); err != nil && beatCtx.Err() == nil {
				logf("beat: %v", err)
			}
			select {
			case <-t.C:
			case <-beatCtx.Done():
				return
			}
		}
	}()
	defer func() {
		stopBeat()
		beatWG.Wait()
	}()

	var cur *job
	idleSince := time.Now()
	setBusy := func(id string) {
		mu.Lock()
		busy = id
		mu.Unlock()
	}
	for {
		if cur != nil {
			select {
			case <-cur.done:
				cur = nil
				setBusy("")
				idleSince = time.Now()
			default:
			}
		}
		if ctx.Err() != nil {
			if cur != nil {
				cur.cancel()
				// bench.Run ends within seconds of a cancel; bound it anyway.
				select {
				case <-cur.done:
				case <-time.After(30 * time.Second):
					logf("run %s did not end within 30 s of the stop", cur.id)
				}
			}
			return nil
		}
		if cur == nil && o.IdleExit > 0 && time.Since(idleSince) > o.IdleExit {
			logf("idle for %v, exiting", o.IdleExit)
			return nil
		}
		msgs, err := ctl.poll(ctx, 250*time.Millisecond)
		if err != nil && ctx.Err() == nil {
			logf("%v", err)
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
		for _, m := range msgs {
			switch m.Kind {
			case kindRun:
				share, ok := m.Spec.Shares[o.Name]
				if !ok {
					continue
				}
				if cur != nil {
					_ = ctl.send(ctx, message{Kind: kindFailed, Run: m.Run, Error: "busy with run " + cur.id})
					continue
				}
				cur = startJob(ctx, ctl, o, m, share, logf)
				setBusy(cur.id)
			case kindDrain:
				if cur != nil && m.Run == cur.id {
					cur.drainOnce.Do(func() { close(cur.drain) })
				}
			case kindStop:
				if cur != nil && m.Run == cur.id {
					logf("run %s: stopped by %s", cur.id, m.From)
					cur.cancel()
				}
			}
			if cur != nil && m.From == cur.coordinator {
				cur.lastCoord = time.Now()
			}
		}
		if cur != nil && time.Since(cur.lastCoord) > coordinatorSilence {
			logf("run %s: coordinator %s silent for %v, stopping", cur.id, cur.coordinator, coordinatorSilence)
			cur.cancel()
			cur.lastCoord = time.Now() // once is enough
		}
	}
}

// startJob runs one share in the background.
func startJob(ctx context.Context, ctl *control, o Options, m message, cfg bench.RunConfig, logf func(string, ...any)) *job {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &job{id: m.Run, coordinator: m.From, cancel: cancel, done: make(chan struct{}), drain: make(chan struct{}), lastCoord: time.Now()}
	logf("run %s from %s: %s, %d producers, %d consumers, %.0f records/s, start %s",
		m.Run, m.From, cfg.Mode, cfg.Producers, cfg.Consumers, cfg.Rate, cfg.Share.Start.Format("15:04:05.000"))
	go func() {
		defer close(j.done)
		defer cancel()
		send := func(msg message) {
			msg.Run = j.id
			if err := ctl.send(context.Background(), msg); err != nil {
				logf("run %s: %v", j.id, err)
			}
		}
		tg, err := bench.NewExternal(strings.Join(m.Spec.Bootstrap, ","))
		if err != nil {
			send(message{Kind: kindFailed, Error: err.Error()})
			return
		}
		// The coordinator's client properties apply, less connection and
		// security ones, which are this agent's own.
		client := maps.Clone(cfg.Client)
		if client == nil {
			client = map[string]string{}
		}
		maps.Copy(client, o.Client)
		cfg.Target, cfg.Client, cfg.Version = tg, client, o.Version
		drainTimeout := cmp.Or(cfg.DrainTimeout, 10*time.Second)
		cfg.Hooks = &bench.Hooks{
			OnLoadEnd: func() { go send(message{Kind: kindLoaded}) },
			// Other agents' records land on this agent's partitions until
			// their producers have flushed too.
			BeforeDrain: func(ctx context.Context) {
				send(message{Kind: kindFlushed})
				t := time.NewTimer(drainTimeout)
				defer t.Stop()
				select {
				case <-j.drain:
				case <-t.C:
					logf("run %s: no word to drain within %v; draining anyway", j.id, drainTimeout)
				case <-ctx.Done():
				}
			},
		}
		sink := bench.SinkFunc(func(iv *bench.Interval) error {
			w, err := toWire(iv)
			if err != nil {
				return err
			}
			send(message{Kind: kindInterval, Interval: w})
			return nil
		})
		res, err := bench.Run(runCtx, cfg, sink)
		if res == nil {
			logf("run %s failed: %v", j.id, err)
			send(message{Kind: kindFailed, Error: err.Error()})
			return
		}
		if err != nil {
			logf("run %s: %v", j.id, err)
		}
		verdict := "valid"
		if !res.Valid {
			verdict = "INVALID: " + strings.Join(res.Invalid, "; ")
		}
		logf("run %s done: %s", j.id, verdict)
		// The coordinator keeps the merged intervals; a long run's own
		// would only swell the message.
		res.Intervals = nil
		send(message{Kind: kindResult, Result: res})
	}()
	return j
}
