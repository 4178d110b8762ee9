package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/bench"
)

// DefaultTopic is the control topic agents and coordinators share.
const DefaultTopic = "__kbench_control"

// Timing of the control protocol.
const (
	// Beat is how often agents (and a coordinator during a run) say they live.
	Beat = time.Second
	// Silence is how long without a message makes an agent (or a
	// coordinator) count as gone: a run fails within Silence plus a beat.
	Silence = 5 * time.Second
	// coordinatorSilence is longer: an agent abandons a run only when the
	// coordinator is surely gone, not after one slow poll.
	coordinatorSilence = 10 * time.Second
	sendTimeout        = 5 * time.Second
)

type kind string

const (
	kindBeat     kind = "beat"
	kindRun      kind = "run"
	kindInterval kind = "interval"
	kindLoaded   kind = "loaded"
	kindFlushed  kind = "flushed"
	kindDrain    kind = "drain"
	kindResult   kind = "result"
	kindFailed   kind = "failed"
	kindStop     kind = "stop"
)

// message is one control record.
type message struct {
	Kind kind   `json:"kind"`
	From string `json:"from"`
	// Instance tells apart two processes claiming the same name.
	Instance string    `json:"instance"`
	Host     string    `json:"host,omitempty"`
	At       time.Time `json:"at"`
	Run      string    `json:"run,omitempty"`
	// Busy is the run a beating agent is working on ("" when idle).
	Busy     string        `json:"busy,omitempty"`
	Spec     *spec         `json:"spec,omitempty"`
	Interval *wireInterval `json:"interval,omitempty"`
	Result   *bench.Result `json:"result,omitempty"`
	Error    string        `json:"error,omitempty"`
	Version  string        `json:"version,omitempty"`
}

// spec is a run as the coordinator hands it out.
type spec struct {
	// Bootstrap is the cluster to load; agents connect with their own
	// connection and security properties, which never travel.
	Bootstrap []string                   `json:"bootstrap"`
	Shares    map[string]bench.RunConfig `json:"shares"`
}

// wireInterval is a bench.Interval on the control topic.
type wireInterval struct {
	Mode                    bench.Mode    `json:"mode"`
	Index                   int           `json:"index"`
	RunStart                time.Time     `json:"run_start"`
	Start                   time.Duration `json:"start_ns"`
	End                     time.Duration `json:"end_ns"`
	Warmup                  bool          `json:"warmup,omitempty"`
	Final                   bool          `json:"final,omitempty"`
	Sent, Acked, Failed     int64
	AckedBytes              int64
	Consumed, ConsumedBytes int64
	CPUCores                float64
	// Histograms in HdrHistogram's compressed V2 encoding.
	Service, Response, E2E []byte
}

func encodeHist(h *hdr.Histogram) ([]byte, error) {
	if h == nil {
		return nil, nil
	}
	return h.Encode(hdr.V2CompressedEncodingCookieBase)
}

func toWire(iv *bench.Interval) (*wireInterval, error) {
	w := &wireInterval{
		Mode: iv.Mode, Index: iv.Index, RunStart: iv.RunStart, Start: iv.Start, End: iv.End,
		Warmup: iv.Warmup, Final: iv.Final, Sent: iv.Sent, Acked: iv.Acked, Failed: iv.Failed,
		AckedBytes: iv.AckedBytes, Consumed: iv.Consumed, ConsumedBytes: iv.ConsumedBytes, CPUCores: iv.CPUCores,
	}
	var errs [3]error
	w.Service, errs[0] = encodeHist(iv.Service)
	w.Response, errs[1] = encodeHist(iv.Response)
	w.E2E, errs[2] = encodeHist(iv.E2E)
	return w, errors.Join(errs[:]...)
}

func decodeHist(b []byte) (*hdr.Histogram, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return hdr.Decode(b)
}

func (w *wireInterval) interval() (*bench.Interval, error) {
	iv := &bench.Interval{
		Mode: w.Mode, Index: w.Index, RunStart: w.RunStart, Start: w.Start, End: w.End,
		Warmup: w.Warmup, Final: w.Final, Sent: w.Sent, Acked: w.Acked, Failed: w.Failed,
		AckedBytes: w.AckedBytes, Consumed: w.Consumed, ConsumedBytes: w.ConsumedBytes, CPUCores: w.CPUCores,
	}
	var errs [3]error
	iv.Service, errs[0] = decodeHist(w.Service)
	iv.Response, errs[1] = decodeHist(w.Response)
	iv.E2E, errs[2] = decodeHist(w.E2E)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("interval %d histograms: %w", w.Index, err)
	}
	return iv, nil
}

// control is one client of the control topic: it reads every message
// written after it joined and writes its own.
type control struct {
	cl       *kgo.Client
	topic    string
	from     string
	instance string
}

// dialControl makes sure the control topic exists and starts reading it
// at its current end. conn holds the connection options (seed brokers,
// security) from bench.RunConfig.ConnOptions.
func dialControl(ctx context.Context, conn []kgo.Opt, topic, from string) (*control, error) {
	admCl, err := kgo.NewClient(conn...)
	if err != nil {
		return nil, fmt.Errorf("control client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	end, err := ensureControlTopic(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	opts := append(append([]kgo.Opt(nil), conn...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(end)}}),
		kgo.DefaultProduceTopic(topic),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(sendTimeout),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("control client: %w", err)
	}
	return &control{cl: cl, topic: topic, from: from, instance: fmt.Sprintf("%x", rand.Uint64())}, nil
}

// ensureControlTopic creates the control topic when missing (replication
// factor up to 3, as the cluster allows) and returns its end offset.
func ensureControlTopic(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return 0, fmt.Errorf("control topic %s: cannot reach the cluster: %w", topic, err)
	}
	rf := int16(min(len(meta.Brokers), 3))
	resp, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"retention.ms": kmsg.StringPtr("3600000")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("control topic %s: %w", topic, err)
	}
	// A new topic needs a leader before its end offset can be read.
	for {
		offs, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			if o, ok := offs.Lookup(topic, 0); ok && o.Err == nil {
				return o.Offset, nil
			} else if ok {
				err = o.Err
			} else {
				err = errors.New("no partition 0")
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("control topic %s: end offset: %w", topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// send writes m, waiting at most sendTimeout for the acknowledgement.
func (c *control) send(ctx context.Context, m message) error {
	m.From, m.Instance, m.At = c.from, c.instance, time.Now()
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("control message: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	if err := c.cl.ProduceSync(ctx, &kgo.Record{Key: []byte(c.from), Value: b}).FirstErr(); err != nil {
		return fmt.Errorf("control topic %s: send %s: %w", c.topic, m.Kind, err)
	}
	return nil
}

// poll returns the messages that arrived within wait (none on timeout);
// records that are not control messages are skipped.
func (c *control) poll(ctx context.Context, wait time.Duration) ([]message, error) {
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	fs := c.cl.PollFetches(pctx)
	if fs.IsClientClosed() {
		return nil, errors.New("control client closed")
	}
	var errs []error
	fs.EachError(func(_ string, _ int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	})
	var out []message
	fs.EachRecord(func(r *kgo.Record) {
		var m message
		if json.Unmarshal(r.Value, &m) == nil && m.Kind != "" && m.Instance != c.instance {
			out = append(out, m)
		}
	})
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("control topic %s: %w", c.topic, errors.Join(errs...))
	}
	return out, nil
}

func (c *control) close() { c.cl.Close() }
