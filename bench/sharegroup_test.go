package bench

import (
	"testing"
	"time"
)

func TestShareGroupSeen(t *testing.T) {
	s := &shareSeen{base: 100}
	for _, o := range []int64{100, 101, 103, 170} {
		if !s.mark(o) {
			t.Fatalf("offset %d: first mark reported seen", o)
		}
	}
	if s.mark(103) {
		t.Fatal("offset 103: second mark reported new")
	}
	for _, tc := range []struct{ from, want int64 }{{100, 102}, {102, 102}, {103, 104}, {170, 171}, {171, 171}} {
		if got := s.next(tc.from); got != tc.want {
			t.Errorf("next(%d) = %d, want %d", tc.from, got, tc.want)
		}
	}
	for o := int64(102); o < 300; o++ {
		s.mark(o)
	}
	if got := s.next(100); got != 300 {
		t.Errorf("next(100) after marking 100-299 = %d, want 300", got)
	}
}

// Share groups read every record once when nothing fails, on kbench's
// broker and on franz-go's kfake alike, in consume and e2e runs.
func TestShareGroupRuns(t *testing.T) {
	targets := map[string]Target{"kbench": startEmbedded(t)}
	_, targets["kfake"] = newKfake(t)
	for name, tg := range targets {
		t.Run(name, func(t *testing.T) {
			res, out := mustRun(t, RunConfig{Mode: ModeConsume, Target: tg, Prefill: 3000, Duration: 20 * time.Second, Consumers: 3,
				Consumer: map[string]string{"group.id": "share-readers", "group.protocol": "share"}, Topic: TopicConfig{Name: "share-consume", Partitions: 2}})
			c := res.Consume
			if c.Consumed != 3000 || c.ShareDeliveries != 3000 || c.Redelivered != 0 || c.MaxDeliveryCount != 1 || c.LagAtEnd != 0 {
				t.Errorf("consume: consumed %d, deliveries %d, redelivered %d, max delivery count %d, lag %d; want 3000/3000/0/1/0\n%s",
					c.Consumed, c.ShareDeliveries, c.Redelivered, c.MaxDeliveryCount, c.LagAtEnd, out)
			}
			res, out = mustRun(t, RunConfig{Mode: ModeE2E, Target: tg, Rate: 2000, Duration: time.Second, Consumers: 2,
				Consumer: map[string]string{"group.id": "share-e2e", "group.protocol": "share"}, Topic: TopicConfig{Name: "share-e2e", Partitions: 2}})
			if res.Produce.Acked != 2000 || res.Consume.Consumed != 2000 || res.Consume.Redelivered != 0 || !validButForLoad(res) {
				t.Errorf("e2e: acked %d consumed %d redelivered %d valid %v %q, want 2000/2000/0/valid\n%s",
					res.Produce.Acked, res.Consume.Consumed, res.Consume.Redelivered, res.Valid, res.Invalid, out)
			}
		})
	}
}
