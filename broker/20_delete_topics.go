package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DeleteTopics v0-v4. v1 adds throttle; v4 is flexible. (v6 topic ids are not
// advertised.) Deletion removes the partition directories at once.

func (b *Broker) handleDeleteTopics(r *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	for _, name := range r.TopicNames {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic = strp(name)
		err := b.topics.delete(name)
		st.ErrorCode = errorCode(err)
		if err == nil {
			b.cfg.Logf("deleted topic %s", name)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
