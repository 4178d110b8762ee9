package measure

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench/rebalance"
)

// Sweep runs every size and protocol; emit receives each row as soon as
// it is measured. A group that fails is reported in its rows and the sweep
// goes on.
func Sweep(ctx context.Context, o rebalance.SweepOptions, emit func(rebalance.Row)) error {
	adm, err := kgo.NewClient(kgo.SeedBrokers(o.Bootstrap...))
	if err != nil {
		return err
	}
	defer adm.Close()
	ad := kadm.NewClient(adm)
	for _, size := range o.Sizes {
		parts := size * o.PartitionsPerMember
		topic := "kbench-rebalance-" + strconv.Itoa(size)
		if err := createTopic(ctx, ad, topic, int32(parts)); err != nil {
			return err
		}
		pctx, stopProducing := context.WithCancel(ctx)
		produced := make(chan error, 1)
		go func() { produced <- produce(pctx, o.Bootstrap, topic, parts, o.RatePerPartition) }()
		for _, p := range o.Protocols {
			ms, err := Run(ctx, Options{
				Bootstrap: o.Bootstrap, Topic: topic, Group: fmt.Sprintf("%s-%s-%d", topic, p, time.Now().UnixNano()),
				Protocol: p, Members: size, Events: o.Events, Session: o.Session, Heartbeat: o.Heartbeat,
				Settle: o.Settle, Timeout: o.Timeout, Logf: o.Logf,
			})
			for _, m := range ms {
				r := rebalance.Row{Size: size, Members: m.Members, Protocol: p, Event: m.Event, Partitions: parts, Done: m.Err == nil, Moved: m.Moved, Again: m.Again, Skipped: m.Skipped}
				if m.Err == nil {
					r.RebalanceS = m.Rebalance.Seconds()
				} else {
					r.Error = m.Err.Error()
				}
				emit(r)
			}
			if err != nil {
				if ctx.Err() != nil {
					stopProducing()
					return ctx.Err()
				}
				emit(rebalance.Row{Size: size, Members: size, Protocol: p, Partitions: parts, Error: err.Error()})
			}
		}
		stopProducing()
		if err := <-produced; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("producer for %s: %w", topic, err)
		}
		if _, err := ad.DeleteTopics(ctx, topic); err != nil {
			return fmt.Errorf("delete %s: %w", topic, err)
		}
	}
	return nil
}

func createTopic(ctx context.Context, ad *kadm.Client, topic string, parts int32) error {
	ad.DeleteTopics(ctx, topic) // a leftover of an interrupted sweep
	for {
		resp, err := ad.CreateTopic(ctx, parts, -1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create %s: %w", topic, err)
		case <-time.After(200 * time.Millisecond): // the deletion may still be in progress
		}
	}
}

// produce writes ratePerPartition records/s to every partition until ctx
// ends, on a fixed schedule (every 10 ms, a share of the partitions).
func produce(ctx context.Context, bootstrap []string, topic string, parts int, ratePerPartition float64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	perTick := ratePerPartition * float64(parts) * tick.Seconds()
	value := make([]byte, 100)
	var owed float64
	next := 0
	failed := make(chan error, 1)
	for {
		select {
		case <-ctx.Done():
			select {
			case err := <-failed:
				return err
			default:
				return nil
			}
		case <-t.C:
		}
		for owed += perTick; owed >= 1; owed-- {
			r := &kgo.Record{Partition: int32(next), Value: value}
			next = (next + 1) % parts
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil && ctx.Err() == nil {
					select {
					case failed <- err:
					default:
					}
				}
			})
		}
	}
}
