package broker

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// logBuffer collects a broker's log lines for assertions.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuffer) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuffer) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// served reports whether a new connection from local (nil: any) gets an
// ApiVersions answer.
func served(t *testing.T, b *Broker, local net.Addr) bool {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	nc, err := d.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(frame(kmsg.NewPtrApiVersionsRequest(), 1)); err != nil {
		return false
	}
	var sz [4]byte
	_, err = nc.Read(sz[:])
	return err == nil
}

// holdConn opens a connection that stays open until the test ends.
func holdConn(t *testing.T, b *Broker, local net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	nc, err := d.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	// A round trip makes sure the broker accepted (and counted) it.
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	nc.Write(frame(kmsg.NewPtrApiVersionsRequest(), 1))
	var sz [4]byte
	if _, err := nc.Read(sz[:]); err != nil {
		t.Fatalf("held connection not served: %v", err)
	}
	return nc
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMaxConnections(t *testing.T) {
	logs := &logBuffer{}
	b := startBroker(t, func(c *Config) {
		c.Limits.MaxConnections = 3
		c.Logf = logs.logf
	})
	held := []net.Conn{holdConn(t, b, nil), holdConn(t, b, nil), holdConn(t, b, nil)}
	if served(t, b, nil) {
		t.Fatal("a fourth connection was served with max.connections=3")
	}
	if !logs.contains("refused connection from 127.0.0.1") || !logs.contains("max.connections=3") {
		t.Fatalf("no refusal log line; got %q", logs.lines)
	}
	held[0].Close()
	waitFor(t, "a connection after one closed", func() bool { return served(t, b, nil) })
}

func TestMaxConnectionsPerIP(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.Limits.MaxConnectionsPerIP = 2 })
	one := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	two := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	holdConn(t, b, one)
	holdConn(t, b, one)
	if served(t, b, one) {
		t.Fatal("a third connection from 127.0.0.1 was served with max.connections.per.ip=2")
	}
	if !served(t, b, two) {
		t.Fatal("a connection from 127.0.0.2 was refused: the cap is per IP")
	}
}

// TestLongPollReleasesSlotOnDisconnect: a client that sends a long-poll
// fetch and goes away must not keep its connection slot for the fetch's
// whole max wait (found by FuzzRequestFrame).
func TestLongPollReleasesSlotOnDisconnect(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.Limits.MaxConnections = 1 })
	c := dialRaw(t, b)
	c.send(fetchFrame("nothing-here", 0, func(r *kmsg.FetchRequest) {
		r.MaxWaitMillis, r.MinBytes = 60_000, 1<<20
		r.Topics = nil // nothing to wait for but the max wait
	}))
	time.Sleep(100 * time.Millisecond)
	c.nc.Close()
	start := time.Now()
	waitFor(t, "the slot of a closed long-poll connection", func() bool { return served(t, b, nil) })
	t.Logf("slot free %s after the client left", time.Since(start).Round(time.Millisecond))
}

// TestPerConnectionInflight: with room for three long-poll fetches, a
// connection's fourth to sixth fetches are not read until the first ones
// are answered, so six 0.6 s polls take two rounds instead of one.
func TestPerConnectionInflight(t *testing.T) {
	poll := fetchFrame("t", 0, func(r *kmsg.FetchRequest) { r.MaxWaitMillis, r.MinBytes, r.Topics = 600, 1<<20, nil })
	run := func(t *testing.T, quota int64) time.Duration {
		b := startBroker(t, func(c *Config) { c.Limits.MaxInflightBytesPerConn = quota })
		c := dialRaw(t, b)
		var all []byte
		for i := 0; i < 6; i++ {
			all = append(all, poll...)
		}
		start := time.Now()
		c.send(all)
		for i := 0; i < 6; i++ {
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = 11
			c.read(resp, false)
		}
		return time.Since(start)
	}
	unlimited := run(t, 0)
	limited := run(t, int64(3*(len(poll)-4)))
	t.Logf("six 0.6 s long polls: %s without a per-connection cap, %s with room for three", unlimited.Round(time.Millisecond), limited.Round(time.Millisecond))
	if unlimited > time.Second {
		t.Fatalf("without a cap: got %s, want about 0.6 s (all six polls in flight)", unlimited)
	}
	if limited < 1150*time.Millisecond {
		t.Fatalf("with room for three: got %s, want about 1.2 s (two rounds)", limited)
	}
}

func TestLimitsValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Limits.MaxConnections = -1
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "limits must be >= 0") {
		t.Fatalf("negative max connections: got %v, want a limits error", err)
	}
}
