package nullbroker

import (
	"os"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteTopics v0-4; v4 made it flexible (v6's topic ids are not offered).
// Deletion is immediate: there is no data to remove.

func (b *Broker) deleteTopics(version int16, body []byte) (kmsg.Response, error) {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	for _, name := range req.TopicNames {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic = kmsg.StringPtr(name)
		b.mu.Lock()
		if t, ok := b.topics[name]; ok {
			delete(b.topics, name)
			for _, p := range t.parts { // a deleted topic's data goes with it
				if p.path != "" {
					_ = p.closeFile() // the file is removed either way
					_ = os.Remove(p.path)
				}
			}
		} else {
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		b.mu.Unlock()
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
