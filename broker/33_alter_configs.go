package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterConfigs v0-v2 (v2 flexible): replaces a topic's whole explicit config
// set, as Kafka does. Broker configs are static here: INVALID_REQUEST.

func (b *Broker) handleAlterConfigs(r *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType = rr.ResourceType
		sr.ResourceName = rr.ResourceName
		if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = strp("only topic configs can be altered; broker configs are set by kbench broker flags")
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		configs := make(map[string]string, len(rr.Configs))
		for _, c := range rr.Configs {
			if c.Value != nil {
				configs[c.Name] = *c.Value
			}
		}
		err := b.topics.setConfigs(rr.ResourceName, configs, r.ValidateOnly)
		sr.ErrorCode = errorCode(err)
		sr.ErrorMessage = errMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}
