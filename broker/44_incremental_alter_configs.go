package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/internal/topicconf"
)

// IncrementalAlterConfigs v0-v1 (v1 flexible): SET and DELETE per key on topic
// resources and (share_config.go) group resources. APPEND/SUBTRACT only apply to list configs; the one list config
// kbench has, cleanup.policy, is set whole (delete, compact or both), so they
// are rejected.

func (b *Broker) handleIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType = rr.ResourceType
		sr.ResourceName = rr.ResourceName
		resp.Resources = append(resp.Resources, sr)
		res := &resp.Resources[len(resp.Resources)-1]
		if rr.ResourceType == kmsg.ConfigResourceTypeGroupConfig {
			err := b.alterGroupConfigs(rr, r.ValidateOnly)
			res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
			continue
		}
		if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
			res.ErrorCode = kerr.InvalidRequest.Code
			res.ErrorMessage = strp("only topic and group configs can be altered; broker configs are set by kbench broker flags")
			continue
		}
		t := b.topics.get(rr.ResourceName)
		if t == nil {
			res.ErrorCode = kerr.UnknownTopicOrPartition.Code
			continue
		}
		configs, err := topicconf.Apply(t.configs, rr.Configs)
		if err != nil {
			err = fmt.Errorf("%w: %v", errInvalidConfig, err)
		} else {
			err = b.topics.setConfigs(rr.ResourceName, configs, r.ValidateOnly)
		}
		res.ErrorCode = errorCode(err)
		res.ErrorMessage = errMessage(err)
	}
	return resp
}
