package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRecreatedTopicConfigsReachEveryBroker: a topic deleted and created
// again under the same name with other configs must carry the new configs
// on every broker. The controller once remembered pushed configs by topic
// name and version, and a new topic starts at version 1 again, so brokers
// kept the old topic's min.insync.replicas and accepted acks=all writes
// the new setting should have refused.
func TestRecreatedTopicConfigsReachEveryBroker(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 60*time.Second)
	cl := tc.client(t)
	adm := kadm.NewClient(cl)
	create := func(configs map[string]*string) {
		t.Helper()
		resp, err := adm.CreateTopic(ctx, 3, 3, configs, "again")
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	create(nil)
	tc.waitISR("again", []int32{1, 2, 3}, 20*time.Second)
	if _, err := adm.DeleteTopics(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := tc.ctrl.Snapshot().Topics["again"]; !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("topic not deleted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	create(map[string]*string{"min.insync.replicas": strp("2")})
	tc.waitISR("again", []int32{1, 2, 3}, 20*time.Second)
	describe := func(id int32) string {
		req := kmsg.NewPtrDescribeConfigsRequest()
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName, res.ConfigNames = kmsg.ConfigResourceTypeTopic, "again", []string{"min.insync.replicas"}
		req.Resources = append(req.Resources, res)
		resp, err := req.RequestWith(ctx, cl.Broker(int(id)))
		if err != nil || len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 1 || resp.Resources[0].Configs[0].Value == nil {
			return fmt.Sprintf("no answer (%v)", err)
		}
		return *resp.Resources[0].Configs[0].Value
	}
	for id := range tc.brokers {
		var got string
		for range 100 { // the push is asynchronous
			if got = describe(id); got == "2" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got != "2" {
			t.Errorf("broker %d: min.insync.replicas of the recreated topic is %q, want 2", id, got)
		}
	}
}
