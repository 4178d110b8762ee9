package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// admin issues the few admin requests a run needs with raw kmsg requests;
// franz-go routes each to the right broker (controller, partition leaders).
type admin struct {
	cl        *kgo.Client
	bootstrap []string
	versions  *kversion.Versions
}

// reachTimeout bounds the first contact, so a wrong --bootstrap fails fast.
const reachTimeout = 10 * time.Second

// connWatch remembers the last failed connection attempt and ends the
// first contact early: at once when the broker answered with an error code,
// after a few failures otherwise (franz-go would retry until the deadline).
type connWatch struct {
	mu       sync.Mutex
	last     error
	failures int
	cancel   context.CancelFunc
}

var _ kgo.HookBrokerConnect = (*connWatch)(nil)

func (w *connWatch) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = err
	w.failures++
	var ke *kerr.Error
	if errors.As(err, &ke) || w.failures >= 3 {
		w.cancel()
	}
}

func (w *connWatch) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func newAdmin(ctx context.Context, p *prepared) (*admin, error) {
	seeds := p.cfg.Target.Bootstrap()
	pctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	watch := &connWatch{cancel: cancel}
	opts := append(slices.Clone(p.adminOpts), kgo.SeedBrokers(seeds...), kgo.DialTimeout(reachTimeout), kgo.WithHooks(watch))
	if p.cfg.Dial != nil {
		opts = append(opts, kgo.Dialer(p.cfg.Dial))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	a := &admin{cl: cl, bootstrap: seeds}
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(pctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		where := strings.Join(seeds, ",")
		last := watch.lastErr()
		if errors.Is(pctx.Err(), context.DeadlineExceeded) {
			if last != nil {
				return nil, fmt.Errorf("cannot reach the cluster at %s within %v (last error: %w)", where, reachTimeout, last)
			}
			return nil, fmt.Errorf("cannot reach the cluster at %s within %v: no answer", where, reachTimeout)
		}
		if last != nil {
			hint := ""
			if p.admin.saslMechanism != "" && (errors.Is(last, io.EOF) || errors.Is(last, net.ErrClosed)) {
				hint = fmt.Sprintf(" (the broker closed the connection: with SASL %s this usually means it rejected sasl.username/sasl.password or the mechanism)", p.admin.saslMechanism)
			}
			return nil, fmt.Errorf("cannot reach the cluster at %s: %w%s", where, last, hint)
		}
		return nil, fmt.Errorf("cannot reach the cluster at %s: %w", where, err)
	}
	a.versions = kversion.FromApiVersionsResponse(resp)
	return a, nil
}

func (a *admin) close() { a.cl.Close() }

// topicState is what Metadata says about a topic.
type topicState struct {
	exists     bool
	partitions int32
	rf         int16
	leaderless int
}

func (a *admin) describeTopic(ctx context.Context, topic string) (topicState, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return topicState{}, fmt.Errorf("metadata for topic %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != topic {
			continue
		}
		if rt.ErrorCode == kerr.UnknownTopicOrPartition.Code {
			return topicState{}, nil
		}
		st := topicState{exists: true, partitions: int32(len(rt.Partitions))}
		for _, p := range rt.Partitions {
			st.rf = max(st.rf, int16(len(p.Replicas)))
			if p.Leader < 0 || p.ErrorCode == kerr.LeaderNotAvailable.Code {
				st.leaderless++
			}
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && st.partitions == 0 {
			// LEADER_NOT_AVAILABLE right after creation is normal; the caller waits.
			if rt.ErrorCode == kerr.LeaderNotAvailable.Code {
				return topicState{exists: true}, nil
			}
			return topicState{}, fmt.Errorf("metadata for topic %s: %w", topic, err)
		}
		return st, nil
	}
	return topicState{}, nil
}

// ensureTopic makes the topic match tc and returns its partition count.
func (a *admin) ensureTopic(ctx context.Context, tc TopicConfig) (int32, error) {
	st, err := a.describeTopic(ctx, tc.Name)
	if err != nil {
		return 0, err
	}
	if st.exists && tc.Recreate {
		if err := a.deleteTopic(ctx, tc.Name); err != nil {
			return 0, err
		}
		st = topicState{}
	}
	if st.exists {
		if err := a.checkExisting(ctx, tc, st); err != nil {
			return 0, err
		}
		return st.partitions, a.waitLeaders(ctx, tc.Name)
	}
	if err := a.createTopic(ctx, tc); err != nil {
		return 0, err
	}
	if err := a.waitLeaders(ctx, tc.Name); err != nil {
		return 0, err
	}
	st, err = a.describeTopic(ctx, tc.Name)
	return st.partitions, err
}

func (a *admin) checkExisting(ctx context.Context, tc TopicConfig, st topicState) error {
	if tc.Partitions > 0 && st.partitions != tc.Partitions {
		return fmt.Errorf("topic %s exists with %d partitions, not the %d asked for: use --recreate or another --topic", tc.Name, st.partitions, tc.Partitions)
	}
	if tc.ReplicationFactor > 0 && st.rf != tc.ReplicationFactor {
		return fmt.Errorf("topic %s exists with replication factor %d, not the %d asked for: use --recreate or another --topic", tc.Name, st.rf, tc.ReplicationFactor)
	}
	if len(tc.Configs) == 0 {
		return nil
	}
	if !a.versions.HasKey(kmsg.DescribeConfigs.Int16()) {
		return fmt.Errorf("topic %s exists and the broker cannot describe its configs to compare with --topic-config: use --recreate", tc.Name)
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeTopic
	res.ResourceName = tc.Name
	res.ConfigNames = sortedKeys(tc.Configs)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return fmt.Errorf("describe configs of topic %s: %w", tc.Name, err)
	}
	have := map[string]string{}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("describe configs of topic %s: %w", tc.Name, err)
		}
		for _, c := range r.Configs {
			if c.Value != nil {
				have[c.Name] = *c.Value
			}
		}
	}
	for _, k := range sortedKeys(tc.Configs) {
		if have[k] != tc.Configs[k] {
			return fmt.Errorf("topic %s exists with %s=%q, not %q: use --recreate or another --topic", tc.Name, k, have[k], tc.Configs[k])
		}
	}
	return nil
}

func (a *admin) createTopic(ctx context.Context, tc TopicConfig) error {
	parts := tc.Partitions
	if parts == 0 {
		parts = DefaultPartitions
	}
	rf := tc.ReplicationFactor
	if rf == 0 {
		rf = -1 // the broker's default.replication.factor
	}
	// A topic just deleted may linger for a moment on a real cluster, so
	// TOPIC_ALREADY_EXISTS after a delete is retried for a while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 30000
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = tc.Name, parts, rf
		for _, k := range sortedKeys(tc.Configs) {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(tc.Configs[k])
			t.Configs = append(t.Configs, c)
		}
		req.Topics = append(req.Topics, t)
		resp, err := req.RequestWith(ctx, a.cl)
		if err != nil {
			return fmt.Errorf("create topic %s: %w", tc.Name, err)
		}
		if len(resp.Topics) != 1 {
			return fmt.Errorf("create topic %s: broker answered for %d topics", tc.Name, len(resp.Topics))
		}
		rt := resp.Topics[0]
		err = kerr.ErrorForCode(rt.ErrorCode)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kerr.TopicAlreadyExists) && time.Now().Before(deadline):
			if st, derr := a.describeTopic(ctx, tc.Name); derr == nil && st.exists {
				// Someone else created it meanwhile: use it if it fits.
				return a.checkExisting(ctx, tc, st)
			}
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		msg := ""
		if rt.ErrorMessage != nil && *rt.ErrorMessage != "" {
			msg = ": " + *rt.ErrorMessage
		}
		return fmt.Errorf("the cluster refused to create topic %s (%d partitions, replication factor %s, configs %v): %w%s",
			tc.Name, parts, rfString(rf), tc.Configs, err, msg)
	}
}

func rfString(rf int16) string {
	if rf < 0 {
		return "broker default"
	}
	return fmt.Sprint(rf)
}

func (a *admin) deleteTopic(ctx context.Context, topic string) error {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	req.TopicNames = []string{topic}
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("the cluster refused to delete topic %s: %w", topic, err)
		}
	}
	// Deletion is asynchronous on Kafka: wait until metadata forgets it.
	return pollUntil(ctx, 30*time.Second, "topic "+topic+" to disappear after deletion", func() (bool, error) {
		st, err := a.describeTopic(ctx, topic)
		return !st.exists, err
	})
}

func (a *admin) waitLeaders(ctx context.Context, topic string) error {
	return pollUntil(ctx, 30*time.Second, "every partition of topic "+topic+" to have a leader", func() (bool, error) {
		st, err := a.describeTopic(ctx, topic)
		return st.exists && st.partitions > 0 && st.leaderless == 0, err
	})
}

func pollUntil(ctx context.Context, limit time.Duration, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", limit, what)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// offsets returns each partition's start (ts -2) or end (ts -1) offset.
func (a *admin) offsets(ctx context.Context, topic string, partitions int32, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, ts, -1
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets of %s partition %d: %w", topic, rp.Partition, err)
			}
			off := rp.Offset
			if resp.Version == 0 && len(rp.OldStyleOffsets) > 0 {
				off = rp.OldStyleOffsets[0]
			}
			out[rp.Partition] = off
		}
	}
	if len(out) != int(partitions) {
		return nil, fmt.Errorf("list offsets of %s: got %d of %d partitions", topic, len(out), partitions)
	}
	return out, nil
}

// describeCluster fills the target half of a manifest.
func (a *admin) describeCluster(ctx context.Context, m *Manifest) {
	m.Bootstrap = slices.Clone(a.bootstrap)
	m.BrokerVersionGuess = a.versions.VersionGuess()
	m.APIVersions = map[string]int16{}
	a.versions.EachMaxKeyVersion(func(k, v int16) {
		name := kmsg.NameForKey(k)
		if name == "" {
			name = fmt.Sprint(k)
		}
		m.APIVersions[name] = v
	})
	if a.versions.HasKey(kmsg.DescribeCluster.Int16()) {
		if resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, a.cl); err == nil && resp.ErrorCode == 0 {
			m.ClusterID, m.Brokers, m.Controller = resp.ClusterID, len(resp.Brokers), resp.ControllerID
			return
		}
	}
	// Older brokers: Metadata has the same facts.
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	if resp, err := req.RequestWith(ctx, a.cl); err == nil {
		if resp.ClusterID != nil {
			m.ClusterID = *resp.ClusterID
		}
		m.Brokers, m.Controller = len(resp.Brokers), resp.ControllerID
	}
}
