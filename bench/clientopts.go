package bench

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientOptions returns the franz-go options of one client of this run in
// role (RoleProducer, RoleConsumer or both): the connection and security
// properties of Client, the role's share of Client overridden by Producer
// and Consumer, the seed brokers and Dial. Stages that run their own
// clients (the safety checker's workloads) start from them.
func (c RunConfig) ClientOptions(role Role) ([]kgo.Opt, error) {
	if c.Target == nil {
		return nil, errors.New("no target")
	}
	props := forRole(c.Client, role)
	if role&RoleProducer != 0 {
		props = merged(props, c.Producer)
	}
	if role&RoleConsumer != 0 {
		props = merged(props, c.Consumer)
	}
	s, err := parseSettings(role, props)
	if err != nil {
		return nil, err
	}
	opts, err := s.options(role)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.SeedBrokers(c.Target.Bootstrap()...))
	if c.Dial != nil {
		opts = append(opts, kgo.Dialer(c.Dial))
	}
	return opts, nil
}
