package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ackStream produces r0000000, r0000001, ... in the background until stopped,
// pausing for pause after every every-th record, and records which records
// were acknowledged (under key), when the last one was, and every failure.
// Lock mu to read what it recorded while it runs.
type ackStream struct {
	mu      sync.Mutex
	acked   map[string]bool
	failed  []error
	lastAck time.Time

	stop, done chan struct{}
}

func streamAcks(ctx context.Context, cl *kgo.Client, every int, pause time.Duration, key func(*kgo.Record) string) *ackStream {
	s := &ackStream{acked: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			default:
			}
			cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("r%07d", i))}, func(r *kgo.Record, err error) {
				s.mu.Lock()
				defer s.mu.Unlock()
				if err != nil {
					s.failed = append(s.failed, err)
					return
				}
				s.acked[key(r)] = true
				s.lastAck = time.Now()
			})
			if i%every == 0 {
				time.Sleep(pause)
			}
		}
	}()
	return s
}

// halt stops producing; records already handed to the client may still be
// acknowledged after it returns.
func (s *ackStream) halt() {
	close(s.stop)
	<-s.done
}

// count is how many records were acknowledged so far.
func (s *ackStream) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}
