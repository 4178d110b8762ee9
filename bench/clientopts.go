package bench

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientOptions returns the franz-go options a run of c builds its producer
// (RoleProducer) or consumer (RoleConsumer) clients with, seed brokers and
// Dial included, but not kbench's own hooks: a loop outside kbench drives the
// very client kbench drives (the generator harness compares the two).
func (c RunConfig) ClientOptions(role Role) ([]kgo.Opt, error) {
	p, err := c.withDefaults().plan()
	if err != nil {
		return nil, err
	}
	var base []kgo.Opt
	switch role {
	case RoleProducer:
		base = p.producerOpts
	case RoleConsumer:
		base = p.consumerOpts
	default:
		return nil, fmt.Errorf("client options: role %s: want the producer or the consumer", roleName(role))
	}
	opts := append(slices.Clone(base), kgo.SeedBrokers(c.Target.Bootstrap()...))
	if c.Dial != nil {
		opts = append(opts, kgo.Dialer(c.Dial))
	}
	return opts, nil
}
