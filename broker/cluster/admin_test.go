package cluster_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/broker/cluster"
)

func TestAdminEndpoint(t *testing.T) {
	c, _ := startFake(t, 2, nil)
	createTopic(t, c.Controller().Addr(), "adm", 2, 2)
	addr, err := cluster.ReadAdminAddr(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("admin endpoint on %s, want loopback", addr)
	}
	ctx := context.Background()
	ac := &cluster.AdminClient{Addr: addr}

	st, err := ac.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dir != c.Dir() || st.Admin != addr || st.Controller != c.Controller().Addr() || len(st.Brokers) != 2 {
		t.Fatalf("status: %+v", st)
	}
	if len(st.Topics) != 1 || st.Topics[0].Name != "adm" || len(st.Topics[0].Partitions) != 2 || len(st.Topics[0].Partitions[1].ISR) != 2 {
		t.Fatalf("status topics: %+v", st.Topics)
	}
	for i, b := range st.Brokers {
		if b.PID != c.Brokers()[i].PID || b.State != cluster.Running || !b.Registered {
			t.Errorf("status broker %d: %+v", i+1, b)
		}
	}

	bi, err := ac.Broker(ctx, 1, "delay", url.Values{"d": {"20ms"}})
	if err != nil || bi.ID != 1 || bi.DelayNs != 20*time.Millisecond {
		t.Fatalf("delay: %+v, %v", bi, err)
	}
	if bi, err = ac.Broker(ctx, 2, "kill", nil); err != nil || bi.State != cluster.Killed {
		t.Fatalf("kill: %+v, %v", bi, err)
	}
	if got := c.Brokers()[1].State; got != cluster.Killed {
		t.Errorf("after kill over HTTP: state %s", got)
	}
	if bi, err = ac.Broker(ctx, 2, "restart", nil); err != nil || bi.State != cluster.Running || bi.Restarts != 1 {
		t.Fatalf("restart: %+v, %v", bi, err)
	}

	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"POST", "/brokers/1/delay?d=soon", 400, "parameter d"},
		{"POST", "/brokers/1/delay?d=-1ms", 400, "must not be negative"},
		{"POST", "/brokers/1/bandwidth?bps=lots", 400, "parameter bps"},
		{"POST", "/brokers/1/drop-produce?fraction=1.5", 400, "fraction in [0, 1]"},
		{"POST", "/brokers/x/kill", 400, "broker id"},
		{"POST", "/brokers/9/kill", 404, "unknown broker"},
		{"POST", "/brokers/1/explode", 404, "unknown action"},
		{"GET", "/brokers/1/kill", 405, ""},
		{"POST", "/status", 405, ""},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s %s: got %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.want)
		}
		if tc.code != 405 {
			var e struct{ Error string }
			if json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("%s %s: body %q is not a JSON error", tc.method, tc.path, body)
			}
		}
	}
	// A fault command to a dead broker is a conflict, not a server error.
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	_, err = ac.Broker(ctx, 1, "delay", url.Values{"d": {"1ms"}})
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("delay on a killed broker: %v", err)
	}
	resp, err := http.Post("http://"+addr+"/brokers/1/pause", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("pause of a killed broker: status %d, want 409", resp.StatusCode)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Status(ctx); err == nil {
		t.Errorf("admin endpoint still answers after Close")
	}
}
