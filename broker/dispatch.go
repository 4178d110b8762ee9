package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	apiVersionsKey        = 18
	errUnsupportedVersion = 35
)

// apiRange is one advertised API key. Min is 0 for every key: librdkafka
// probes single versions inside the range and silently disables features
// (compression among them) when v0 is missing.
type apiRange struct{ key, max int16 }

// advertised lists exactly what works; raise a max only when the newer
// version's semantics are implemented.
var advertised = []apiRange{
	{0, 9},  // Produce
	{1, 12}, // Fetch
	{2, 7},  // ListOffsets (v7: MAX_TIMESTAMP)
	{3, 12}, // Metadata (v10: topic ids; v12: lookup by id)
	{8, 9},  // OffsetCommit (v9: consumer-group member epochs)
	{9, 9},  // OffsetFetch (v8: batched groups; v9: member epochs)
	{10, 4}, // FindCoordinator (v4: batched keys)
	{11, 6}, // JoinGroup (v5+: static membership)
	{12, 4}, // Heartbeat
	{13, 4}, // LeaveGroup
	{14, 4}, // SyncGroup
	{15, 5}, // DescribeGroups
	{16, 5}, // ListGroups (v5: group types)
	{17, 1}, // SaslHandshake
	{18, 3}, // ApiVersions
	{19, 5}, // CreateTopics
	{20, 4}, // DeleteTopics
	{21, 2}, // DeleteRecords
	{22, 4}, // InitProducerId
	{23, 4}, // OffsetForLeaderEpoch
	{24, 3}, // AddPartitionsToTxn
	{25, 3}, // AddOffsetsToTxn
	{26, 3}, // EndTxn
	{27, 1}, // WriteTxnMarkers
	{28, 3}, // TxnOffsetCommit
	{32, 4}, // DescribeConfigs
	{33, 2}, // AlterConfigs
	{36, 2}, // SaslAuthenticate
	{37, 2}, // CreatePartitions
	{42, 2}, // DeleteGroups
	{44, 1}, // IncrementalAlterConfigs
	{47, 0}, // OffsetDelete
	{60, 0}, // DescribeCluster
	{68, 1}, // ConsumerGroupHeartbeat (KIP-848; v1: regex, client-made member ids)
	{69, 1}, // ConsumerGroupDescribe
	{76, 1}, // ShareGroupHeartbeat (v0: Kafka 4.0 early access, served as v1)
	{77, 1}, // ShareGroupDescribe
	{78, 2}, // ShareFetch (v2: acquire mode, renew acks)
	{79, 2}, // ShareAcknowledge
	{85, 1}, // WriteShareGroupState (share coordinator: the partition leader)
	{86, 0}, // DeleteShareGroupState
	{87, 1}, // ReadShareGroupStateSummary
	{90, 1}, // DescribeShareGroupOffsets
	{91, 0}, // AlterShareGroupOffsets
	{92, 0}, // DeleteShareGroupOffsets
}

// internal lists keys accepted only from the controller, never advertised.
var internal = []apiRange{
	{6, 7}, // UpdateMetadata: the controller's partition-state push
}

func supported(key, version int16) bool {
	if version < 0 {
		return false
	}
	for _, a := range advertised {
		if a.key == key {
			return version <= a.max
		}
	}
	return false
}

func supportedInternal(key, version int16) bool {
	for _, a := range internal {
		if a.key == key {
			return version >= 0 && version <= a.max
		}
	}
	return false
}

// coordinatorWrite runs a handler that writes coordinator state (or
// transaction markers) and waits for its replication off the connection's
// read loop.
func coordinatorWrite(handle func() kmsg.Response) reply {
	return reply{later: func() reply { return reply{msg: handle()} }}
}

// dispatch runs the handler for one request. Handlers are named after the
// API and live one per file, numbered by key.
func (b *Broker) dispatch(c *conn, h *reqHeader, req kmsg.Request) reply {
	switch r := req.(type) {
	case *kmsg.UpdateMetadataRequest:
		return reply{msg: b.applyMetadata(r)}
	case *kmsg.AlterConfigsRequest:
		if fromController(h) {
			return reply{msg: b.applyConfigs(r)}
		}
		if b.clustered() {
			return b.forward(r)
		}
		return reply{msg: b.handleAlterConfigs(r)}
	case *kmsg.CreateTopicsRequest, *kmsg.DeleteTopicsRequest, *kmsg.CreatePartitionsRequest, *kmsg.IncrementalAlterConfigsRequest:
		if b.clustered() {
			return b.forward(req)
		}
	}
	switch r := req.(type) {
	case *kmsg.TxnOffsetCommitRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleTxnOffsetCommit(r) })
	case *kmsg.WriteTxnMarkersRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleWriteTxnMarkers(r) })
	case *kmsg.OffsetForLeaderEpochRequest:
		return reply{msg: b.handleOffsetForLeaderEpoch(r)}
	case *kmsg.ProduceRequest:
		return b.handleProduce(r)
	case *kmsg.FetchRequest:
		return b.handleFetch(c, r)
	case *kmsg.ListOffsetsRequest:
		return reply{msg: b.handleListOffsets(r)}
	case *kmsg.MetadataRequest:
		return b.handleMetadata(r)
	case *kmsg.OffsetCommitRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleOffsetCommit(r) })
	case *kmsg.OffsetFetchRequest:
		return reply{msg: b.handleOffsetFetch(r)}
	case *kmsg.FindCoordinatorRequest:
		return reply{msg: b.handleFindCoordinator(r)}
	case *kmsg.JoinGroupRequest:
		return b.handleJoinGroup(c, h, r)
	case *kmsg.HeartbeatRequest:
		return reply{msg: b.handleHeartbeat(r)}
	case *kmsg.LeaveGroupRequest:
		return reply{msg: b.handleLeaveGroup(r)}
	case *kmsg.SyncGroupRequest:
		return b.handleSyncGroup(c, r)
	case *kmsg.DescribeGroupsRequest:
		return reply{msg: b.handleDescribeGroups(r)}
	case *kmsg.ListGroupsRequest:
		return reply{msg: b.handleListGroups(r)}
	case *kmsg.DeleteGroupsRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleDeleteGroups(r) })
	case *kmsg.OffsetDeleteRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleOffsetDelete(r) })
	case *kmsg.ShareGroupHeartbeatRequest:
		return reply{msg: b.handleShareGroupHeartbeat(c, h, r)}
	case *kmsg.ShareGroupDescribeRequest:
		return reply{msg: b.handleShareGroupDescribe(r)}
	case *kmsg.ShareFetchRequest:
		return b.handleShareFetch(c, r)
	case *kmsg.ShareAcknowledgeRequest:
		return reply{msg: b.handleShareAcknowledge(r)}
	case *kmsg.WriteShareGroupStateRequest:
		return reply{msg: b.handleWriteShareGroupState(r)}
	case *kmsg.DeleteShareGroupStateRequest:
		return reply{msg: b.handleDeleteShareGroupState(r)}
	case *kmsg.ReadShareGroupStateSummaryRequest:
		return reply{msg: b.handleReadShareGroupStateSummary(r)}
	case *kmsg.DescribeShareGroupOffsetsRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleDescribeShareGroupOffsets(r) })
	case *kmsg.AlterShareGroupOffsetsRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleAlterShareGroupOffsets(r) })
	case *kmsg.DeleteShareGroupOffsetsRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleDeleteShareGroupOffsets(r) })
	case *kmsg.SASLHandshakeRequest:
		return c.handleSaslHandshake(r)
	case *kmsg.SASLAuthenticateRequest:
		return c.handleSaslAuthenticate(r)
	case *kmsg.ApiVersionsRequest:
		return reply{msg: apiVersionsResponse(r.Version)}
	case *kmsg.CreateTopicsRequest:
		return reply{msg: b.handleCreateTopics(r)}
	case *kmsg.DeleteTopicsRequest:
		return reply{msg: b.handleDeleteTopics(r)}
	case *kmsg.DeleteRecordsRequest:
		return reply{msg: b.handleDeleteRecords(r)}
	case *kmsg.InitProducerIDRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleInitProducerID(r) })
	case *kmsg.AddPartitionsToTxnRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleAddPartitionsToTxn(r) })
	case *kmsg.AddOffsetsToTxnRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleAddOffsetsToTxn(r) })
	case *kmsg.EndTxnRequest:
		return coordinatorWrite(func() kmsg.Response { return b.handleEndTxn(r) })
	case *kmsg.DescribeConfigsRequest:
		return reply{msg: b.handleDescribeConfigs(r)}
	case *kmsg.CreatePartitionsRequest:
		return reply{msg: b.handleCreatePartitions(r)}
	case *kmsg.IncrementalAlterConfigsRequest:
		return reply{msg: b.handleIncrementalAlterConfigs(r)}
	case *kmsg.DescribeClusterRequest:
		return reply{msg: b.handleDescribeCluster(r)}
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return reply{msg: b.handleConsumerGroupHeartbeat(c, h, r)}
	case *kmsg.ConsumerGroupDescribeRequest:
		return reply{msg: b.handleConsumerGroupDescribe(r)}
	}
	// supported() filtered unknown keys before decoding; reaching here is a bug
	// in the advertised table.
	panic("broker: advertised key without handler")
}
