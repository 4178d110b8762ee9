package broker

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestInternalTopicsCluster: in a 3-broker cluster the first FindCoordinator
// creates __consumer_offsets (replication factor 3, compacted, internal);
// kcat -L lists it, franz-go's metadata marks it internal, and producing to
// it is refused with INVALID_TOPIC_EXCEPTION, by franz-go and by kcat.
func TestInternalTopicsCluster(t *testing.T) {
	kcat := requireTool(t, "kcat")
	tc := startCluster(t, 3)
	ctx := testCtx(t, 60*time.Second)
	cl := tc.client(t)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "g"
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && resp.ErrorCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no coordinator: %v %v", err, resp)
		}
	}
	md := kmsg.NewPtrMetadataRequest()
	resp, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var mt *kmsg.MetadataResponseTopic
	for i := range resp.Topics {
		if *resp.Topics[i].Topic == offsetsTopic {
			mt = &resp.Topics[i]
		}
	}
	switch {
	case mt == nil:
		t.Fatalf("%s not in metadata", offsetsTopic)
	case !mt.IsInternal:
		t.Fatalf("%s not marked internal", offsetsTopic)
	case len(mt.Partitions) != 10 || len(mt.Partitions[0].Replicas) != 3:
		t.Fatalf("%s: %d partitions, replicas %v; want 10 partitions of 3 replicas", offsetsTopic, len(mt.Partitions), mt.Partitions[0].Replicas)
	}
	if cfg := tc.ctrl.Snapshot().Topics[offsetsTopic].Configs; cfg["cleanup.policy"] != "compact" || cfg["min.insync.replicas"] != "2" {
		t.Fatalf("%s configs %v", offsetsTopic, cfg)
	}
	meta := string(run(t, 20*time.Second, nil, kcat, "-b", tc.addrs()[0], "-L"))
	if !strings.Contains(meta, `topic "__consumer_offsets" with 10 partitions`) {
		t.Fatalf("kcat -L does not list %s:\n%s", offsetsTopic, meta)
	}

	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = cl.ProduceSync(pctx, &kgo.Record{Topic: offsetsTopic, Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("franz-go produce to %s: %v, want INVALID_TOPIC_EXCEPTION", offsetsTopic, err)
	}
	// kcat exits 0 whatever happened: its delivery report says.
	kctx, kcancel := context.WithTimeout(ctx, 20*time.Second)
	defer kcancel()
	cmd := exec.CommandContext(kctx, kcat, "-b", tc.addrs()[0], "-P", "-t", offsetsTopic, "-p", "0")
	cmd.Stdin = strings.NewReader("x\n")
	raw, err := cmd.CombinedOutput()
	out := string(raw)
	t.Logf("kcat -P -t %s: %v\n%s", offsetsTopic, err, out)
	if !strings.Contains(out, "Invalid topic") {
		t.Fatalf("kcat produce to %s was not refused:\n%s", offsetsTopic, out)
	}
}
