package bench

import (
	"fmt"
	"net"
	"strings"
)

// Target is the Kafka cluster a run talks to. The cluster issue swaps in a
// multi-process cluster behind the same three methods.
type Target interface {
	Bootstrap() []string
	Describe() string
	Close() error
}

var _ Target = (*External)(nil)

// External is a cluster kbench did not start and never touches beyond
// producing, consuming and managing its topic.
type External struct {
	addrs []string
}

// NewExternal checks a comma-separated host:port list.
func NewExternal(bootstrap string) (*External, error) {
	var addrs []string
	for _, a := range strings.Split(bootstrap, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("bootstrap address %q: want host:port: %w", a, err)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("bootstrap %q: no host:port given", bootstrap)
	}
	return &External{addrs: addrs}, nil
}

// Bootstrap returns the seed addresses.
func (e *External) Bootstrap() []string { return e.addrs }

// Describe names the target for manifests.
func (e *External) Describe() string { return "external cluster at " + strings.Join(e.addrs, ",") }

// Close does nothing: kbench did not start this cluster.
func (e *External) Close() error { return nil }
