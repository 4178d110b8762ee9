package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeCluster v0: the live brokers, the cluster id and the controller id
// clients should use (in a cluster: the broker that forwards to kbench's
// controller, as Metadata reports it).

func (b *Broker) handleDescribeCluster(r *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = b.cfg.ClusterID
	if img := b.image.Load(); b.clustered() && img != nil {
		resp.ControllerID = img.controllerID
		for _, ib := range img.brokers {
			br := kmsg.NewDescribeClusterResponseBroker()
			br.NodeID, br.Host, br.Port = ib.id, ib.host, ib.port
			resp.Brokers = append(resp.Brokers, br)
		}
		return resp
	}
	resp.ControllerID = b.cfg.NodeID
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID = b.cfg.NodeID
	br.Host = b.advHost
	br.Port = b.advPort
	resp.Brokers = append(resp.Brokers, br)
	return resp
}
