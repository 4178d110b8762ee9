package broker

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeConfigs v0-v4. v1 adds synonyms and config source; v3 adds config
// type and documentation; v4 is flexible. Topic resources list every topic
// config kbench understands (explicit or default); broker resources list the
// broker's static settings, read-only.

func (b *Broker) handleDescribeConfigs(r *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType = rr.ResourceType
		sr.ResourceName = rr.ResourceName
		want := func(name string) bool {
			if rr.ConfigNames == nil {
				return true
			}
			for _, n := range rr.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		add := func(name, value string, isDefault, readOnly bool, source kmsg.ConfigSource) {
			if !want(name) {
				return
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = name
			c.Value = strp(value)
			c.ReadOnly = readOnly
			c.IsDefault = isDefault
			c.Source = source
			c.ConfigType = configType(value)
			sr.Configs = append(sr.Configs, c)
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := b.topics.get(rr.ResourceName)
			if t == nil {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sr.ErrorMessage = strp("unknown topic " + rr.ResourceName)
				break
			}
			for _, d := range describeTopicConfigs(&b.cfg, t.configs) {
				src := kmsg.ConfigSourceDefaultConfig
				if !d.isDefault {
					src = kmsg.ConfigSourceDynamicTopicConfig
				}
				add(d.name, d.value, d.isDefault, false, src)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(b.cfg.NodeID)) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				sr.ErrorMessage = strp("unknown broker " + rr.ResourceName)
				break
			}
			for _, kv := range b.brokerConfigs() {
				add(kv[0], kv[1], false, true, kmsg.ConfigSourceStaticBrokerConfig)
			}
		case kmsg.ConfigResourceTypeGroupConfig:
			for _, kv := range b.describeGroupConfigs(rr.ResourceName) {
				explicit := b.isExplicitGroupConfig(rr.ResourceName, kv[0])
				src := kmsg.ConfigSourceDefaultConfig
				if explicit {
					src = kmsg.ConfigSourceGroupConfig
				}
				add(kv[0], kv[1], !explicit, false, src)
			}
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = strp("only topic, broker and group resources are supported")
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func (b *Broker) brokerConfigs() [][2]string {
	c := &b.cfg
	return [][2]string{
		{"auto.create.topics.enable", strconv.FormatBool(c.AutoCreateTopics)},
		{"broker.id", strconv.Itoa(int(c.NodeID))},
		{"log.retention.bytes", strconv.FormatInt(c.Log.RetentionBytes, 10)},
		{"log.retention.ms", strconv.FormatInt(c.Log.RetentionMs, 10)},
		{"log.roll.ms", strconv.FormatInt(c.Log.SegmentMs, 10)},
		{"log.segment.bytes", strconv.FormatInt(c.Log.SegmentBytes, 10)},
		{"message.max.bytes", strconv.Itoa(int(c.MessageMaxBytes))},
		{"num.partitions", strconv.Itoa(int(c.DefaultPartitions))},
		{"socket.request.max.bytes", strconv.Itoa(int(c.MaxRequestBytes))},
	}
}

func configType(v string) kmsg.ConfigType {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return kmsg.ConfigTypeLong
	}
	if v == "true" || v == "false" {
		return kmsg.ConfigTypeBoolean
	}
	return kmsg.ConfigTypeString
}
