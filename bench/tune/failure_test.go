package tune

import (
	"strings"
	"testing"
)

// TestConfigFailure: failures no candidate's settings change stop the
// tune, with what to change; the candidate's own failures do not.
func TestConfigFailure(t *testing.T) {
	producerSpace := testSpace
	topicSpace := Space{Dims: append(testSpace.Dims[:2:2], Dim{Name: "replication.factor", Values: []string{"1", "3"}, Ordered: true})}
	const (
		rf      = "the cluster refused to create topic kbench-tune (6 partitions, replication factor 3, configs map[min.insync.replicas:2]): INVALID_REPLICATION_FACTOR: Replication factor is below 1 or larger than the number of available brokers."
		config  = "the cluster refused to create topic kbench-tune (6 partitions, replication factor 1, configs map[foo.bar:1]): INVALID_CONFIG: Configuration is invalid.: invalid config: unknown or unsupported topic config \"foo.bar\""
		sasl    = "cannot reach the cluster at 127.0.0.1:19401: SASL_AUTHENTICATION_FAILED: SASL Authentication failed."
		acl     = "r1: produce: TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed.]"
		tlsErr  = "cannot reach the cluster at kafka:9093: tls: failed to verify certificate: x509: certificate signed by unknown authority"
		refused = "cannot reach the cluster at 127.0.0.1:19402: unable to dial: dial tcp 127.0.0.1:19402: connect: connection refused"
		setting = "settings: property enable.idempotence=true conflicts with max.in.flight.requests.per.connection=10 (Kafka rejects this too)"
		tooBig  = "r1: 12 records failed: MESSAGE_TOO_LARGE: The request included a message larger than the max message size the server will accept."
	)
	tests := []struct {
		name     string
		sp       Space
		external bool
		failed   string
		want     string // in the reason; "" = the search goes on
	}{
		{"replication factor over the brokers", producerSpace, true, rf, "the cluster refused the topic's settings (INVALID_REPLICATION_FACTOR), which no candidate's settings change: change the replication factor"},
		{"replication factor on the embedded cluster", producerSpace, false, rf, "INVALID_REPLICATION_FACTOR"},
		{"unknown topic config", producerSpace, true, config, "the cluster refused the topic's settings (INVALID_CONFIG)"},
		{"a space that varies the topic", topicSpace, true, rf, ""},
		{"wrong password", producerSpace, true, sasl, "the cluster refused the client's credentials or permissions (SASL_AUTHENTICATION_FAILED)"},
		{"no ACL on the topic", topicSpace, true, acl, "(TOPIC_AUTHORIZATION_FAILED)"},
		{"untrusted certificate", producerSpace, true, tlsErr, "credentials or permissions (x509)"},
		{"cluster down", producerSpace, true, refused, "the cluster cannot be reached (connection refused), which no candidate's settings change: check --bootstrap"},
		{"embedded broker gone", producerSpace, false, refused, ""},
		{"the candidate's settings", producerSpace, true, setting, ""},
		{"the candidate's batches", producerSpace, true, tooBig, ""},
		{"no failure", producerSpace, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := configFailure(tt.sp, tt.external, tt.failed)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
