package topicconf

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		cfg     map[string]string
		wantErr string
	}{
		{map[string]string{"retention.ms": "1000", "cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"}, ""},
		{map[string]string{"retention.ms": "-1", "retention.bytes": "-1"}, ""},
		{map[string]string{"no.such": "1"}, `unknown or unsupported topic config "no.such"`},
		{map[string]string{"retention.ms": "soon"}, "not an integer"},
		{map[string]string{"retention.ms": "-2"}, "must be >= -1"},
		{map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0"}, ""},
		{map[string]string{"cleanup.policy": "shrink"}, "valid values: delete, compact"},
		{map[string]string{"min.insync.replicas": "0"}, "must be >= 1"},
	}
	for _, tc := range cases {
		err := Validate(tc.cfg)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: got %v, want nil", tc.cfg, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: got %v, want error containing %q", tc.cfg, err, tc.wantErr)
		}
	}
}
