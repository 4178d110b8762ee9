package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeCluster v0: brokers, cluster id and controller (this broker).

func (b *Broker) handleDescribeCluster(r *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = b.cfg.ClusterID
	resp.ControllerID = b.cfg.NodeID
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID = b.cfg.NodeID
	br.Host = b.advHost
	br.Port = b.advPort
	resp.Brokers = append(resp.Brokers, br)
	return resp
}
