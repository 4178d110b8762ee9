package broker

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupGarbageFrames: group requests whose bodies do not decode cost
// their connection only; the broker and a live group on another connection
// carry on.
func TestGroupGarbageFrames(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	a := newRawMember(t, b, "survivor")
	a.join()
	a.sync(map[string]string{a.id: "x"})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 40; i++ {
		key := []int16{8, 9, 11, 12, 13, 14, 15, 16, 42, 47}[i%10]
		body := make([]byte, rng.IntN(40))
		for j := range body {
			body[j] = byte(rng.UintN(256))
		}
		raw := binary.BigEndian.AppendUint32(nil, uint32(8+2+len(body)))
		raw = binary.BigEndian.AppendUint16(raw, uint16(key))
		raw = binary.BigEndian.AppendUint16(raw, 2) // a non-flexible version
		raw = binary.BigEndian.AppendUint32(raw, uint32(i))
		raw = append(raw, 0xff, 0xff) // null client id
		raw = append(raw, body...)
		c := dialRaw(t, b)
		c.send(raw)
		// Either an answer (the bytes happened to decode) or a closed
		// connection; never a hang or a dead broker.
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		var buf [1]byte
		if _, err := c.nc.Read(buf[:]); err != nil && isTimeout(err) {
			t.Fatalf("garbage key %d: no answer and no close within 5 s", key)
		}
		c.nc.Close()
	}
	stillServes(t, b)
	wantCode(t, "live member heartbeat after the garbage", a.heartbeat(), nil)
}

func isTimeout(err error) bool {
	ne, ok := err.(interface{ Timeout() bool })
	return ok && ne.Timeout()
}

// allowedGroupCodes are the answers well-formed but arbitrary group requests
// may get. UNKNOWN_SERVER_ERROR or a broken connection would be a bug.
var allowedGroupCodes = map[int16]bool{
	0:                                   true,
	kerr.UnknownTopicOrPartition.Code:   true,
	kerr.CoordinatorNotAvailable.Code:   true,
	kerr.OffsetMetadataTooLarge.Code:    true,
	kerr.IllegalGeneration.Code:         true,
	kerr.InconsistentGroupProtocol.Code: true,
	kerr.InvalidGroupID.Code:            true,
	kerr.UnknownMemberID.Code:           true,
	kerr.InvalidSessionTimeout.Code:     true,
	kerr.RebalanceInProgress.Code:       true,
	kerr.InvalidRequest.Code:            true,
	kerr.GroupIDNotFound.Code:           true,
	kerr.NonEmptyGroup.Code:             true,
	kerr.MemberIDRequired.Code:          true,
	kerr.FencedInstanceID.Code:          true,
	kerr.GroupSubscribedToTopic.Code:    true,
}

// TestGroupRandomRequests throws a few thousand seeded-random but decodable
// group requests (bad ids, generations, timeouts, protocols, assignments,
// offsets) from several connections at once. Every one must get an answer
// with an expected error code, and a real consumer group must work after.
func TestGroupRandomRequests(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	ctx := testCtx(t, 50*time.Second)
	createTopic(ctx, t, b, "rnd", 2)

	var idsMu sync.Mutex
	ids := []string{"", "ghost", "x-1"}
	addID := func(id string) {
		if id == "" {
			return
		}
		idsMu.Lock()
		if len(ids) < 64 {
			ids = append(ids, id)
		}
		idsMu.Unlock()
	}
	pickID := func(rng *rand.Rand) string {
		idsMu.Lock()
		defer idsMu.Unlock()
		return ids[rng.IntN(len(ids))]
	}

	const workers, perWorker = 6, 400
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	codes := make([]map[int16]int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		codes[w] = map[int16]int{}
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			c := &rawMember{t: t, c: dialRaw(t, b)}
			for i := 0; i < perWorker; i++ {
				req := randomGroupRequest(rng, pickID)
				c.c.nc.SetDeadline(time.Now().Add(10 * time.Second))
				resp := c.do(req)
				for _, code := range responseCodes(resp) {
					codes[w][code]++
					if !allowedGroupCodes[code] {
						errs <- fmt.Errorf("%T v%d got %v: %+v", req, req.GetVersion(), kerr.ErrorForCode(code), req)
						return
					}
				}
				if j, ok := resp.(*kmsg.JoinGroupResponse); ok {
					addID(j.MemberID)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := map[int16]int{}
	for _, m := range codes {
		for k, v := range m {
			total[k] += v
		}
	}
	t.Logf("answers by error code: %v", total)
	if total[0] == 0 || total[kerr.UnknownMemberID.Code] == 0 {
		t.Fatalf("the random requests never succeeded or never hit UNKNOWN_MEMBER_ID: %v", total)
	}

	// The broker still runs real groups, including on the abused group ids.
	produceN(ctx, t, b, "rnd", 20)
	cl := newClient(t, b, kgo.ConsumerGroup("rg1"), kgo.ConsumeTopics("rnd"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for n := 0; n < 20; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumer group on a fuzzed group id read %d of 20", n)
		}
		n += fs.NumRecords()
	}
	stillServes(t, b)
}

func randomGroupRequest(rng *rand.Rand, pickID func(*rand.Rand) string) kmsg.Request {
	group := []string{"rg0", "rg1", "rg2", ""}[rng.IntN(4)]
	gen := int32(rng.IntN(6)) - 1
	var inst *string
	if rng.IntN(4) == 0 {
		inst = strp([]string{"i1", "i2", ""}[rng.IntN(3)])
	}
	protos := func() []kmsg.JoinGroupRequestProtocol {
		var ps []kmsg.JoinGroupRequestProtocol
		for n := rng.IntN(3); n > 0; n-- {
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name = []string{"range", "roundrobin", "cooperative-sticky", ""}[rng.IntN(4)]
			p.Metadata = make([]byte, rng.IntN(20))
			for i := range p.Metadata {
				p.Metadata[i] = byte(rng.UintN(256))
			}
			if rng.IntN(2) == 0 {
				p.Metadata = consumerProtocols(p.Name, "rnd")[0].Metadata
			}
			ps = append(ps, p)
		}
		return ps
	}
	switch rng.IntN(7) {
	case 0, 1:
		r := kmsg.NewPtrJoinGroupRequest()
		r.Version = int16(rng.IntN(7))
		r.Group, r.MemberID = group, pickID(rng)
		if r.Version >= 5 {
			r.InstanceID = inst
		}
		r.SessionTimeoutMillis = []int32{-1, 0, 500, 800, 1000, 1 << 30}[rng.IntN(6)]
		r.RebalanceTimeoutMillis = []int32{-1, 0, 50, 100, 200}[rng.IntN(5)]
		r.ProtocolType = []string{"consumer", "consumer", "connect", ""}[rng.IntN(4)]
		r.Protocols = protos()
		return r
	case 2:
		r := kmsg.NewPtrSyncGroupRequest()
		r.Version = int16(rng.IntN(5))
		r.Group, r.MemberID, r.Generation = group, pickID(rng), gen
		if r.Version >= 3 {
			r.InstanceID = inst
		}
		for n := rng.IntN(4); n > 0; n-- {
			a := kmsg.NewSyncGroupRequestGroupAssignment()
			a.MemberID, a.MemberAssignment = pickID(rng), []byte{byte(n)}
			r.GroupAssignment = append(r.GroupAssignment, a)
		}
		return r
	case 3:
		r := kmsg.NewPtrHeartbeatRequest()
		r.Version = int16(rng.IntN(5))
		r.Group, r.MemberID, r.Generation = group, pickID(rng), gen
		if r.Version >= 3 {
			r.InstanceID = inst
		}
		return r
	case 4:
		r := kmsg.NewPtrLeaveGroupRequest()
		r.Version = int16(rng.IntN(5))
		r.Group, r.MemberID = group, pickID(rng)
		if r.Version >= 3 {
			for n := rng.IntN(3); n > 0; n-- {
				r.Members = append(r.Members, kmsg.LeaveGroupRequestMember{MemberID: pickID(rng), InstanceID: inst})
			}
		}
		return r
	case 5:
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version = int16(rng.IntN(9))
		r.Group, r.MemberID, r.Generation = group, pickID(rng), gen
		if r.Version >= 7 {
			r.InstanceID = inst
		}
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = []string{"rnd", "nope"}[rng.IntN(2)]
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = int32(rng.IntN(4))-1, int64(rng.IntN(100))
		md := string(make([]byte, []int{0, 10, 5000}[rng.IntN(3)]))
		rp.Metadata = &md
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	default:
		switch rng.IntN(3) {
		case 0:
			r := kmsg.NewPtrDeleteGroupsRequest()
			r.Version = int16(rng.IntN(3))
			r.Groups = []string{group}
			return r
		case 1:
			r := kmsg.NewPtrOffsetDeleteRequest()
			r.Group = group
			r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "rnd", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
			return r
		default:
			r := kmsg.NewPtrDescribeGroupsRequest()
			r.Version = int16(rng.IntN(6))
			r.Groups = []string{group, "rg1"}
			return r
		}
	}
}

// responseCodes lists every error code in a group-API response.
func responseCodes(resp kmsg.Response) []int16 {
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		return []int16{r.ErrorCode}
	case *kmsg.SyncGroupResponse:
		return []int16{r.ErrorCode}
	case *kmsg.HeartbeatResponse:
		return []int16{r.ErrorCode}
	case *kmsg.LeaveGroupResponse:
		cs := []int16{r.ErrorCode}
		for _, m := range r.Members {
			cs = append(cs, m.ErrorCode)
		}
		return cs
	case *kmsg.OffsetCommitResponse:
		var cs []int16
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				cs = append(cs, p.ErrorCode)
			}
		}
		return cs
	case *kmsg.DeleteGroupsResponse:
		var cs []int16
		for _, g := range r.Groups {
			cs = append(cs, g.ErrorCode)
		}
		return cs
	case *kmsg.OffsetDeleteResponse:
		cs := []int16{r.ErrorCode}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				cs = append(cs, p.ErrorCode)
			}
		}
		return cs
	case *kmsg.DescribeGroupsResponse:
		var cs []int16
		for _, g := range r.Groups {
			cs = append(cs, g.ErrorCode)
		}
		return cs
	}
	return []int16{kerr.UnknownServerError.Code}
}
