package topicconf

import (
	"maps"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
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

func TestApply(t *testing.T) {
	set := func(k, v string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		return kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: k, Op: kmsg.IncrementalAlterConfigOpSet, Value: &v}
	}
	del := kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "retention.ms", Op: kmsg.IncrementalAlterConfigOpDelete}
	current := map[string]string{"retention.ms": "1000", "segment.bytes": "4096"}
	got, err := Apply(current, []kmsg.IncrementalAlterConfigsRequestResourceConfig{set("flush.ms", "5"), del, set("segment.bytes", "8192")})
	want := map[string]string{"flush.ms": "5", "segment.bytes": "8192"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if current["retention.ms"] != "1000" || len(current) != 2 {
		t.Fatalf("Apply changed its input: %v", current)
	}
	if got, err := Apply(nil, []kmsg.IncrementalAlterConfigsRequestResourceConfig{set("flush.ms", "5")}); err != nil || got["flush.ms"] != "5" {
		t.Fatalf("on no configs: got %v, %v; want flush.ms=5", got, err)
	}
	for _, tc := range []struct {
		op   kmsg.IncrementalAlterConfigsRequestResourceConfig
		want string
	}{
		{kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "flush.ms", Op: kmsg.IncrementalAlterConfigOpSet}, "SET flush.ms without a value"},
		{kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "cleanup.policy", Op: kmsg.IncrementalAlterConfigOpAppend}, "on cleanup.policy is not supported (SET with a value, DELETE)"},
	} {
		got, err := Apply(current, []kmsg.IncrementalAlterConfigsRequestResourceConfig{set("flush.ms", "5"), tc.op})
		if err == nil || !strings.Contains(err.Error(), tc.want) || got != nil {
			t.Errorf("%v: got %v, %v; want no configs and an error containing %q", tc.op.Op, got, err, tc.want)
		}
	}
}
