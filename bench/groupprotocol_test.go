package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestConsumeConsumerProtocol: a consume run with group.protocol=consumer
// reads everything through a KIP-848 group, on kbench's broker and on
// kfake, and measures it: fetching waits until the group settled (its first
// member is assigned every partition at once and would otherwise read
// everything before the measurement starts).
func TestConsumeConsumerProtocol(t *testing.T) {
	kb := startEmbedded(t)
	_, kf := newKfake(t, kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "500"}))
	for name, tg := range map[string]Target{"kbench": kb, "kfake": kf} {
		t.Run(name, func(t *testing.T) {
			res, out := mustRun(t, RunConfig{Mode: ModeConsume, Target: tg, Prefill: 20000, Duration: 20 * time.Second, Consumers: 2,
				Consumer: map[string]string{"group.id": "kip848", "group.protocol": "consumer"},
				Topic:    TopicConfig{Name: "kip848", Partitions: 4}, Workload: Workload{RecordSize: "100"}})
			if res.Consume.Consumed != 20000 || res.Consume.IdleConsumers != 0 || res.Measured <= 0 || !res.Valid {
				t.Fatalf("consumed %d, idle %d, measured %.3fs, valid %v %q; want 20000 by both consumers in a valid measurement\n%s",
					res.Consume.Consumed, res.Consume.IdleConsumers, float64(res.Measured), res.Valid, res.Invalid, out)
			}
		})
	}
}

// TestConsumerProtocolFallbackRefused: on a cluster without KIP-848, franz-go
// would quietly use the classic protocol; the run refuses instead.
func TestConsumerProtocolFallbackRefused(t *testing.T) {
	_, tg := newKfake(t, kfake.MaxVersions(kversion.V3_5_0()))
	_, err := Run(context.Background(), RunConfig{Mode: ModeConsume, Target: tg, Prefill: 100, Duration: 10 * time.Second,
		Consumer: map[string]string{"group.id": "fallback", "group.protocol": "consumer"}, Topic: TopicConfig{Name: "fallback", Partitions: 1}}, nil)
	if err == nil || !strings.Contains(err.Error(), "fell back to the classic protocol") {
		t.Fatalf("got %v, want an error saying the group fell back to the classic protocol", err)
	}
}
