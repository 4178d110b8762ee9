package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// An unreachable controller answers every resource of a forwarded request
// with a retriable error, named as the request named it.
func TestForwardErrorAnswersEveryResource(t *testing.T) {
	code := kerr.RequestTimedOut.Code
	ct := kmsg.NewPtrCreateTopicsRequest()
	cp := kmsg.NewPtrCreatePartitionsRequest()
	for _, n := range []string{"a", "b"} {
		ct.Topics = append(ct.Topics, kmsg.CreateTopicsRequestTopic{Topic: n})
		cp.Topics = append(cp.Topics, kmsg.CreatePartitionsRequestTopic{Topic: n})
	}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TopicNames = []string{"a", "b"}
	ac := kmsg.NewPtrAlterConfigsRequest()
	iac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, n := range []string{"a", "b"} {
		ac.Resources = append(ac.Resources, kmsg.AlterConfigsRequestResource{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: n})
		iac.Resources = append(iac.Resources, kmsg.IncrementalAlterConfigsRequestResource{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: n})
	}
	type entry struct {
		name string
		typ  kmsg.ConfigResourceType
		code int16
	}
	for _, tc := range []struct {
		req  kmsg.Request
		want []entry
		got  func(kmsg.Response) []entry
	}{
		{ct, []entry{{"a", 0, code}, {"b", 0, code}}, func(r kmsg.Response) (out []entry) {
			for _, t := range r.(*kmsg.CreateTopicsResponse).Topics {
				out = append(out, entry{t.Topic, 0, t.ErrorCode})
			}
			return out
		}},
		{dt, []entry{{"a", 0, code}, {"b", 0, code}}, func(r kmsg.Response) (out []entry) {
			for _, t := range r.(*kmsg.DeleteTopicsResponse).Topics {
				out = append(out, entry{*t.Topic, 0, t.ErrorCode})
			}
			return out
		}},
		{cp, []entry{{"a", 0, code}, {"b", 0, code}}, func(r kmsg.Response) (out []entry) {
			for _, t := range r.(*kmsg.CreatePartitionsResponse).Topics {
				out = append(out, entry{t.Topic, 0, t.ErrorCode})
			}
			return out
		}},
		{ac, []entry{{"a", kmsg.ConfigResourceTypeTopic, code}, {"b", kmsg.ConfigResourceTypeTopic, code}}, func(r kmsg.Response) (out []entry) {
			for _, s := range r.(*kmsg.AlterConfigsResponse).Resources {
				out = append(out, entry{s.ResourceName, s.ResourceType, s.ErrorCode})
			}
			return out
		}},
		{iac, []entry{{"a", kmsg.ConfigResourceTypeBroker, code}, {"b", kmsg.ConfigResourceTypeBroker, code}}, func(r kmsg.Response) (out []entry) {
			for _, s := range r.(*kmsg.IncrementalAlterConfigsResponse).Resources {
				out = append(out, entry{s.ResourceName, s.ResourceType, s.ErrorCode})
			}
			return out
		}},
	} {
		t.Run(kmsg.NameForKey(tc.req.Key()), func(t *testing.T) {
			resp := forwardError(tc.req)
			if resp.Key() != tc.req.Key() {
				t.Fatalf("got a response for key %d, want %d", resp.Key(), tc.req.Key())
			}
			got := tc.got(resp)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entries %v, want %v", len(got), got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
