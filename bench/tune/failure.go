package tune

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A failed measurement either fails for the candidate's own settings (the
// generator rejects the combination, the broker refuses its batches):
// it counts as nothing met the SLO and the search goes on; or it fails for
// something no candidate changes (the topic the cluster will not create,
// the credentials, the cluster itself), so every other candidate would
// fail alike and the tune stops at once instead of spending its budget.

// failureKind is one kind of failure that no candidate's settings fix.
type failureKind struct {
	// what the failure is about, and what to do, for the message.
	what, fix string
	// codes are the Kafka errors (by name, as error texts carry them,
	// results from agents included) and texts other errors of the kind.
	codes []*kerr.Error
	texts []string
	// topic: the kind is the topic's shape, which a space that varies a
	// topic setting (or the brokers) does change per candidate.
	topic bool
	// external: only against a cluster kbench did not start (an embedded
	// broker that went away is restarted for the next candidate).
	external bool
}

var configFailures = []failureKind{
	{what: "the cluster refused the topic's settings", topic: true,
		fix:   "change the replication factor, partitions or topic configs (--rf, --min-insync, --set topic....) to fit the cluster",
		codes: []*kerr.Error{kerr.InvalidReplicationFactor, kerr.InvalidPartitions, kerr.InvalidConfig, kerr.PolicyViolation, kerr.InvalidReplicaAssignment, kerr.InvalidTopicException}},
	{what: "the cluster refused the client's credentials or permissions",
		fix:   "check the connection and security properties (--command-config, target.client) and the cluster's ACLs",
		codes: []*kerr.Error{kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism, kerr.IllegalSaslState, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed},
		texts: []string{"x509: ", "tls: "}},
	{what: "the cluster cannot be reached", external: true,
		fix:   "check --bootstrap and that the cluster is up",
		texts: []string{"connection refused", "no such host", "network is unreachable"}},
}

// topicSetting reports whether a setting shapes the topic or the cluster.
func topicSetting(name string) bool {
	switch name {
	case "partitions", "replication.factor", "min.insync.replicas", "brokers":
		return true
	}
	return strings.HasPrefix(name, "topic.")
}

// configFailure says why a measurement's failure (its error text) ends
// the tune: what went wrong and what to change; "" when the failure may be
// the candidate's own and the search goes on. external is whether the
// target is a cluster kbench did not start.
func configFailure(sp Space, external bool, failed string) string {
	if failed == "" {
		return ""
	}
	variesTopic := false
	for _, d := range sp.Dims {
		variesTopic = variesTopic || topicSetting(d.Name)
	}
	for _, k := range configFailures {
		if (k.topic && variesTopic) || (k.external && !external) {
			continue
		}
		found := ""
		for _, c := range k.codes {
			if strings.Contains(failed, c.Message) {
				found = c.Message
				break
			}
		}
		for _, t := range k.texts {
			if found == "" && strings.Contains(failed, t) {
				found = strings.TrimSpace(strings.TrimSuffix(t, ": "))
			}
		}
		if found != "" {
			return k.what + " (" + found + "), which no candidate's settings change: " + k.fix
		}
	}
	return ""
}
