package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawMember drives the group protocol by hand over its own connection, so a
// test decides exactly what each member sends and when. Parked requests
// (JoinGroup, SyncGroup) hold the connection until answered, as in Kafka.
type rawMember struct {
	t        *testing.T
	c        *rawConn
	corr     int32
	group    string
	id       string
	instance *string
	gen      int32
	version  int16 // JoinGroup version
	// protocols offered on join; default one "range" protocol subscribing to "t".
	protocols []kmsg.JoinGroupRequestProtocol
	session   int32
	rebalance int32
	inflight  kmsg.Response
	flexible  bool
}

func newRawMember(t *testing.T, b *Broker, group string) *rawMember {
	return &rawMember{t: t, c: dialRaw(t, b), group: group, gen: -1, version: 5, session: 10000, rebalance: 5000,
		protocols: consumerProtocols("range", "t")}
}

func consumerProtocols(name string, topics ...string) []kmsg.JoinGroupRequestProtocol {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = name, md.AppendTo(nil)
	return []kmsg.JoinGroupRequestProtocol{p}
}

// send writes req without waiting for its answer; recv reads it.
func (m *rawMember) send(req kmsg.Request) {
	m.t.Helper()
	if m.inflight != nil {
		m.t.Fatalf("member %s: request already in flight", m.id)
	}
	m.corr++
	m.inflight = req.ResponseKind()
	m.flexible = req.IsFlexible()
	m.c.send(frame(req, m.corr))
}

func (m *rawMember) recv() kmsg.Response {
	m.t.Helper()
	resp := m.inflight
	m.inflight = nil
	if corr := m.c.read(resp, m.flexible); corr != m.corr {
		m.t.Fatalf("correlation id: got %d, want %d", corr, m.corr)
	}
	return resp
}

func (m *rawMember) do(req kmsg.Request) kmsg.Response {
	m.t.Helper()
	m.send(req)
	return m.recv()
}

// stillParked asserts the in-flight request gets no answer within d.
func (m *rawMember) stillParked(d time.Duration) {
	m.t.Helper()
	m.c.nc.SetReadDeadline(time.Now().Add(d))
	defer m.c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b [1]byte
	if n, err := m.c.nc.Read(b[:]); n > 0 || err == nil {
		m.t.Fatalf("member %s: request answered within %v, want it parked", m.id, d)
	}
}

func (m *rawMember) joinRequest() *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = m.version
	r.Group, r.MemberID, r.InstanceID = m.group, m.id, m.instance
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = m.session, m.rebalance
	r.ProtocolType = "consumer"
	r.Protocols = m.protocols
	return r
}

// startJoin sends JoinGroup; finishJoin reads the answer and adopts the
// member id and generation it carries.
func (m *rawMember) startJoin() { m.t.Helper(); m.send(m.joinRequest()) }

func (m *rawMember) finishJoin() *kmsg.JoinGroupResponse {
	m.t.Helper()
	resp := m.recv().(*kmsg.JoinGroupResponse)
	if resp.ErrorCode == 0 || resp.ErrorCode == kerr.MemberIDRequired.Code {
		m.id = resp.MemberID
	}
	if resp.ErrorCode == 0 {
		m.gen = resp.Generation
	}
	return resp
}

// join joins fully, answering MEMBER_ID_REQUIRED, and fails on any error.
func (m *rawMember) join() *kmsg.JoinGroupResponse {
	m.t.Helper()
	m.startJoin()
	resp := m.finishJoin()
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		m.startJoin()
		resp = m.finishJoin()
	}
	if resp.ErrorCode != 0 {
		m.t.Fatalf("join: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp
}

func (m *rawMember) syncRequest(assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 3
	r.Group, r.MemberID, r.InstanceID, r.Generation = m.group, m.id, m.instance, m.gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, []byte(a)
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	return r
}

func (m *rawMember) sync(assign map[string]string) *kmsg.SyncGroupResponse {
	m.t.Helper()
	return m.do(m.syncRequest(assign)).(*kmsg.SyncGroupResponse)
}

func (m *rawMember) heartbeat() int16 {
	m.t.Helper()
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 3
	r.Group, r.MemberID, r.InstanceID, r.Generation = m.group, m.id, m.instance, m.gen
	return m.do(r).(*kmsg.HeartbeatResponse).ErrorCode
}

func (m *rawMember) commit(topic string, partition int32, offset int64) int16 {
	m.t.Helper()
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 7
	r.Group, r.MemberID, r.InstanceID, r.Generation = m.group, m.id, m.instance, m.gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return m.do(r).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

func describeGroup(t *testing.T, b *Broker, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	c := &rawMember{t: t, c: dialRaw(t, b)}
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.Version = 5
	r.Groups = []string{group}
	resp := c.do(r).(*kmsg.DescribeGroupsResponse)
	if len(resp.Groups) != 1 {
		t.Fatalf("describe: got %d groups, want 1", len(resp.Groups))
	}
	return resp.Groups[0]
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: got %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(w))
	}
}
