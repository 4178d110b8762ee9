package topicconf

import (
	"strings"
	"testing"
)

func TestValidateGroup(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		err  string // "" for valid; else a part of the message
	}{
		{"share settings", map[string]string{"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": "1000", "share.delivery.count.limit": "2"}, ""},
		{"unknown key", map[string]string{"share.isolation.level": "read_committed"}, "share.isolation.level"},
		{"bad reset", map[string]string{"share.auto.offset.reset": "middle"}, "earliest, latest"},
		{"lock too short", map[string]string{"share.record.lock.duration.ms": "999"}, "[1000, 3600000]"},
		{"delivery limit too high", map[string]string{"share.delivery.count.limit": "11"}, "[2, 10]"},
		{"not a number", map[string]string{"share.session.timeout.ms": "soon"}, "not an integer"},
	} {
		err := ValidateGroup(tc.cfg)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: got %v, want valid", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.err)
		}
	}
}
