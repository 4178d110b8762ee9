package broker

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFindCoordinatorVersions(t *testing.T) {
	b := startBroker(t)
	c := &rawMember{t: t, c: dialRaw(t, b)}
	for v := int16(0); v <= 3; v++ {
		for _, kt := range []int8{0, 1} {
			if v == 0 && kt == 1 {
				continue // key types exist from v1
			}
			r := kmsg.NewPtrFindCoordinatorRequest()
			r.Version, r.CoordinatorKey, r.CoordinatorType = v, "some-key", kt
			resp := c.do(r).(*kmsg.FindCoordinatorResponse)
			if resp.ErrorCode != 0 || resp.NodeID != b.NodeID() || resp.Host+":"+strconv.Itoa(int(resp.Port)) != b.Addr() {
				t.Fatalf("v%d type %d: %v node %d at %s:%d, want node %d at %s", v, kt, kerr.ErrorForCode(resp.ErrorCode), resp.NodeID, resp.Host, resp.Port, b.NodeID(), b.Addr())
			}
		}
	}
	r := kmsg.NewPtrFindCoordinatorRequest()
	r.Version, r.CoordinatorKey, r.CoordinatorType = 2, "k", 7
	wantCode(t, "v2 unknown key type", c.do(r).(*kmsg.FindCoordinatorResponse).ErrorCode, kerr.InvalidRequest)

	r = kmsg.NewPtrFindCoordinatorRequest()
	r.Version, r.CoordinatorKeys, r.CoordinatorType = 4, []string{"g1", "g2", "g3"}, 0
	resp := c.do(r).(*kmsg.FindCoordinatorResponse)
	if len(resp.Coordinators) != 3 {
		t.Fatalf("v4 batch: %d answers, want 3", len(resp.Coordinators))
	}
	for i, co := range resp.Coordinators {
		if co.Key != r.CoordinatorKeys[i] || co.ErrorCode != 0 || co.NodeID != b.NodeID() {
			t.Fatalf("v4 answer %d: %+v", i, co)
		}
	}
	r.CoordinatorType = 1 // transactional ids are batched too
	if resp := c.do(r).(*kmsg.FindCoordinatorResponse); resp.Coordinators[0].ErrorCode != 0 {
		t.Fatalf("v4 transaction key: %v", kerr.ErrorForCode(resp.Coordinators[0].ErrorCode))
	}
}

// TestGroupAdmin covers DescribeGroups, ListGroups, DeleteGroups and
// OffsetDelete against a live franz-go consumer group, with kadm.
func TestGroupAdmin(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	ctx := testCtx(t, 30*time.Second)
	createTopic(ctx, t, b, "adm", 3)
	createTopic(ctx, t, b, "other", 1)
	produceN(ctx, t, b, "adm", 30)
	adm := kadm.NewClient(newClient(t, b))

	cl := newClient(t, b, kgo.ConsumerGroup("adm-group"), kgo.ConsumeTopics("adm"), kgo.ClientID("adm-client"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	for n := 0; n < 30 && ctx.Err() == nil; {
		n += cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	// A simple (manually assigned) consumer's commit to "other".
	if err := adm.CommitAllOffsets(ctx, "adm-group", kadm.OffsetsFromRecords(kgo.Record{Topic: "other", Partition: 0, Offset: 4})); !isErr(err, kerr.UnknownMemberID) {
		t.Fatalf("simple commit into a group with live members: %v, want UNKNOWN_MEMBER_ID", err)
	}

	dg, err := adm.DescribeGroups(ctx, "adm-group")
	if err != nil {
		t.Fatal(err)
	}
	d := dg["adm-group"]
	if d.State != "Stable" || d.Protocol != "cooperative-sticky" || d.ProtocolType != "consumer" || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	mem := d.Members[0]
	if mem.ClientID != "adm-client" || mem.ClientHost != "/127.0.0.1" {
		t.Fatalf("member client %q host %q, want adm-client at /127.0.0.1", mem.ClientID, mem.ClientHost)
	}
	if a, ok := mem.Assigned.AsConsumer(); !ok || len(a.Topics) != 1 || len(a.Topics[0].Partitions) != 3 {
		t.Fatalf("member assignment does not decode to the 3 partitions: %+v", mem.Assigned)
	}

	ls, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := ls["adm-group"]; !ok || g.State != "Stable" || g.ProtocolType != "consumer" {
		t.Fatalf("list: %+v", ls)
	}
	if ls, _ := adm.ListGroups(ctx, "Empty"); len(ls) != 0 {
		t.Fatalf("state filter Empty listed %v", ls.Groups())
	}

	del, err := adm.DeleteGroups(ctx, "adm-group", "no-such-group")
	if err != nil {
		t.Fatal(err)
	}
	if !isErr(del["adm-group"].Err, kerr.NonEmptyGroup) || !isErr(del["no-such-group"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete: %v / %v, want NON_EMPTY_GROUP / GROUP_ID_NOT_FOUND", del["adm-group"].Err, del["no-such-group"].Err)
	}

	// OffsetDelete refuses the subscribed topic while the member lives.
	od, err := adm.DeleteOffsets(ctx, "adm-group", kadm.TopicsSet{"adm": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if !isErr(od["adm"][0], kerr.GroupSubscribedToTopic) {
		t.Fatalf("offset delete of a subscribed topic: %v, want GROUP_SUBSCRIBED_TO_TOPIC", od["adm"][0])
	}

	cl.Close() // leaves the group
	if dg, _ := adm.DescribeGroups(ctx, "adm-group"); dg["adm-group"].State != "Empty" || len(dg["adm-group"].Members) != 0 {
		t.Fatalf("after leave: %+v", dg["adm-group"])
	}
	// Empty now: the simple commit is allowed.
	if err := adm.CommitAllOffsets(ctx, "adm-group", kadm.OffsetsFromRecords(kgo.Record{Topic: "other", Partition: 0, Offset: 4})); err != nil {
		t.Fatalf("simple commit into the empty group: %v", err)
	}
	od, err = adm.DeleteOffsets(ctx, "adm-group", kadm.TopicsSet{"adm": {0: {}}, "nope": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if od["adm"][0] != nil || !isErr(od["nope"][0], kerr.UnknownTopicOrPartition) {
		t.Fatalf("offset delete on the empty group: %v / %v", od["adm"][0], od["nope"][0])
	}
	if b.groups.fetch("adm-group", topicPartition{"adm", 0}, false).offset != -1 {
		t.Fatalf("adm-0 offset still committed after OffsetDelete")
	}
	// (OffsetsFromRecords commits the record's offset + 1.)
	if b.groups.fetch("adm-group", topicPartition{"adm", 1}, false).offset != 10 || b.groups.fetch("adm-group", topicPartition{"other", 0}, false).offset != 5 {
		t.Fatalf("OffsetDelete removed more than asked")
	}

	if ls, _ := adm.ListGroups(ctx, "empty"); len(ls) != 1 {
		t.Fatalf("state filter (case-insensitive) empty listed %v, want adm-group", ls.Groups())
	}
	del, _ = adm.DeleteGroups(ctx, "adm-group")
	if err := del["adm-group"].Err; err != nil {
		t.Fatalf("delete of the empty group: %v", err)
	}
	if dg, _ := adm.DescribeGroups(ctx, "adm-group"); dg["adm-group"].State != "Dead" {
		t.Fatalf("deleted group described as %q, want Dead", dg["adm-group"].State)
	}
	if f := b.groups.fetch("adm-group", topicPartition{"other", 0}, false); f.offset != -1 {
		t.Fatalf("offsets survived DeleteGroups: %d", f.offset)
	}
	del, _ = adm.DeleteGroups(ctx, "adm-group")
	if !isErr(del["adm-group"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("second delete: %v, want GROUP_ID_NOT_FOUND", del["adm-group"].Err)
	}
}

func isErr(err error, want *kerr.Error) bool { return errors.Is(err, want) }

// TestOffsetFetchVersions checks the shape of OffsetFetch answers across
// versions: explicit partitions, null topics (all), v8 batches, and that a
// deleted topic's offsets are gone (also after re-creating it).
func TestOffsetFetchVersions(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "f1", 2)
	createTopic(ctx, t, b, "f2", 1)
	c := &rawMember{t: t, c: dialRaw(t, b)}
	commit := func(version int16, group string, topic string, p int32, off int64, meta string) {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version, r.Group = version, group
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata, rp.LeaderEpoch = p, off, &meta, 5
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		wantCode(t, "commit", c.do(r).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, nil)
	}
	commit(0, "fv", "f1", 0, 10, "m0")
	commit(2, "fv", "f1", 1, 11, "m1")
	commit(8, "fv", "f2", 0, 12, "m2")
	commit(8, "fv2", "f2", 0, 99, "")

	fetch := func(version int16, group string, topics []kmsg.OffsetFetchRequestTopic) *kmsg.OffsetFetchResponse {
		r := kmsg.NewPtrOffsetFetchRequest()
		r.Version, r.Group, r.Topics = version, group, topics
		return c.do(r).(*kmsg.OffsetFetchResponse)
	}
	explicit := []kmsg.OffsetFetchRequestTopic{{Topic: "f1", Partitions: []int32{0, 1, 7}}}
	for _, v := range []int16{0, 1, 5, 7} {
		resp := fetch(v, "fv", explicit)
		ps := resp.Topics[0].Partitions
		if len(ps) != 3 || ps[0].Offset != 10 || ps[1].Offset != 11 || ps[2].Offset != -1 || *ps[0].Metadata != "m0" {
			t.Fatalf("v%d: %+v", v, resp.Topics)
		}
		if v >= 5 && (ps[0].LeaderEpoch != -1 || ps[1].LeaderEpoch != -1) { // committed with v0/v2: no epoch
			t.Fatalf("v%d leader epochs %d/%d", v, ps[0].LeaderEpoch, ps[1].LeaderEpoch)
		}
	}
	if resp := fetch(7, "fv", []kmsg.OffsetFetchRequestTopic{{Topic: "f2", Partitions: []int32{0}}}); resp.Topics[0].Partitions[0].LeaderEpoch != 5 {
		t.Fatalf("v8-committed leader epoch not returned: %+v", resp.Topics[0].Partitions[0])
	}
	all := fetch(6, "fv", nil)
	if len(all.Topics) != 2 || all.Topics[0].Topic != "f1" || len(all.Topics[0].Partitions) != 2 || all.Topics[1].Partitions[0].Offset != 12 {
		t.Fatalf("null topics: %+v", all.Topics)
	}
	if none := fetch(6, "nobody", nil); len(none.Topics) != 0 || none.ErrorCode != 0 {
		t.Fatalf("unknown group: %+v", none)
	}

	r8 := kmsg.NewPtrOffsetFetchRequest()
	r8.Version = 8
	r8.Groups = []kmsg.OffsetFetchRequestGroup{
		{Group: "fv", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "f1", Partitions: []int32{1}}}},
		{Group: "fv2"}, // null topics: everything
	}
	resp8 := c.do(r8).(*kmsg.OffsetFetchResponse)
	if len(resp8.Groups) != 2 || resp8.Groups[0].Topics[0].Partitions[0].Offset != 11 || resp8.Groups[1].Topics[0].Partitions[0].Offset != 99 {
		t.Fatalf("v8 batch: %+v", resp8.Groups)
	}

	// Deleting f2 drops its offsets; re-creating it does not bring them back.
	if _, err := kadm.NewClient(newClient(t, b)).DeleteTopics(ctx, "f2"); err != nil {
		t.Fatal(err)
	}
	gone := []kmsg.OffsetFetchRequestTopic{{Topic: "f2", Partitions: []int32{0}}}
	if resp := fetch(7, "fv", gone); resp.Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("offset of a deleted topic still returned: %+v", resp.Topics[0].Partitions[0])
	}
	createTopic(ctx, t, b, "f2", 1)
	if resp := fetch(7, "fv", gone); resp.Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("re-created topic inherited old offset: %+v", resp.Topics[0].Partitions[0])
	}
	if all := fetch(6, "fv", nil); len(all.Topics) != 1 {
		t.Fatalf("null-topics fetch lists the deleted topic: %+v", all.Topics)
	}
}
