package broker

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// rawConn speaks the wire protocol by hand so tests can send what no client would.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, b *Broker) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t, nc}
}

// frame encodes req with a request header.
func frame(req kmsg.Request, corr int32) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func (c *rawConn) send(raw []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(raw); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response frame and decodes it as resp (after the header).
func (c *rawConn) read(resp kmsg.Response, flexibleHeader bool) int32 {
	c.t.Helper()
	var sz [4]byte
	if _, err := io.ReadFull(c.nc, sz[:]); err != nil {
		c.t.Fatalf("read response size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(c.nc, body); err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	corr := int32(binary.BigEndian.Uint32(body))
	body = body[4:]
	if flexibleHeader {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decode response: %v", err)
	}
	return corr
}

// expectClosed asserts the broker closed the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Read(make([]byte, 1))
	if err == nil {
		c.t.Fatalf("connection still open, want closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after 5s, want closed")
	}
}

// stillServes checks a fresh connection gets a valid ApiVersions answer.
func stillServes(t *testing.T, b *Broker) {
	t.Helper()
	c := dialRaw(t, b)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "t", "1"
	c.send(frame(req, 7))
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if corr := c.read(resp, false); corr != 7 || resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("broker no longer serves: corr %d err %d keys %d", corr, resp.ErrorCode, len(resp.ApiKeys))
	}
}

func TestApiVersions(t *testing.T) {
	b := startBroker(t)
	t.Run("advertises min 0", func(t *testing.T) {
		c := dialRaw(t, b)
		req := kmsg.NewPtrApiVersionsRequest()
		c.send(frame(req, 1))
		resp := kmsg.NewPtrApiVersionsResponse()
		c.read(resp, false)
		if len(resp.ApiKeys) != len(advertised) {
			t.Fatalf("got %d keys, want %d", len(resp.ApiKeys), len(advertised))
		}
		for _, k := range resp.ApiKeys {
			if k.MinVersion != 0 {
				t.Errorf("key %d: min version %d, want 0", k.ApiKey, k.MinVersion)
			}
		}
	})
	t.Run("unknown version gets v0 answer with UNSUPPORTED_VERSION", func(t *testing.T) {
		c := dialRaw(t, b)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		raw := frame(req, 9)
		binary.BigEndian.PutUint16(raw[6:], 99) // version 99
		c.send(raw)
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		if corr := c.read(resp, false); corr != 9 {
			t.Fatalf("correlation id: got %d, want 9", corr)
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
			t.Fatalf("got error %d with %d keys, want %d with our keys", resp.ErrorCode, len(resp.ApiKeys), kerr.UnsupportedVersion.Code)
		}
	})
}

func TestMalformedRequestsCloseOnlyThatConnection(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxRequestBytes = 1 << 20 })
	cases := map[string][]byte{
		"oversized frame":  {0x10, 0, 0, 0, 0, 3, 0, 1},
		"negative size":    {0xff, 0xff, 0xff, 0xf0},
		"tiny size":        {0, 0, 0, 2, 0, 3},
		"unknown key":      append([]byte{0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1}, 0, 0),
		"garbage metadata": {0, 0, 0, 16, 0, 3, 0, 5, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0x12, 0x34},
		"truncated body":   {0, 0, 0, 12, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1},
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, b)
			c.send(raw)
			c.expectClosed()
			stillServes(t, b)
		})
	}
}

func TestProduceErrors(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MessageMaxBytes = 4096 })
	if _, err := b.topics.create("t", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	good := recordstest.Batch(recordstest.BatchOpts{Values: [][]byte{[]byte("a"), []byte("b")}})
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	magic1 := append([]byte(nil), good...)
	magic1[16] = 1
	big := recordstest.Batch(recordstest.BatchOpts{Values: [][]byte{make([]byte, 8000)}})
	cases := []struct {
		name  string
		topic string
		part  int32
		acks  int16
		recs  []byte
		want  int16
	}{
		{"ok", "t", 0, 1, good, 0},
		{"corrupt crc", "t", 0, 1, corrupt, kerr.CorruptMessage.Code},
		{"old magic", "t", 0, 1, magic1, kerr.UnsupportedVersion.Code},
		{"too large", "t", 0, 1, big, kerr.MessageTooLarge.Code},
		{"unknown topic", "nope", 0, 1, good, kerr.UnknownTopicOrPartition.Code},
		{"unknown partition", "t", 5, 1, good, kerr.UnknownTopicOrPartition.Code},
		{"bad acks", "t", 0, 2, good, kerr.InvalidRequiredAcks.Code},
		{"truncated batch", "t", 0, 1, good[:len(good)-3], kerr.CorruptMessage.Code},
	}
	c := dialRaw(t, b)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrProduceRequest()
			req.Version = 9
			req.Acks = tc.acks
			req.TimeoutMillis = 1000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = tc.topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = tc.part
			rp.Records = append([]byte(nil), tc.recs...)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			c.send(frame(req, int32(i)))
			resp := req.ResponseKind().(*kmsg.ProduceResponse)
			if corr := c.read(resp, true); corr != int32(i) {
				t.Fatalf("correlation id: got %d, want %d", corr, i)
			}
			if got := resp.Topics[0].Partitions[0].ErrorCode; got != tc.want {
				t.Fatalf("got error code %d, want %d", got, tc.want)
			}
		})
	}
	if end := b.topics.partition("t", 0).log.EndOffset(); end != 2 {
		t.Fatalf("log end offset: got %d, want 2 (only the good batch appended)", end)
	}
}

// TestPipelining sends several requests before reading: responses come back
// in request order, and an acks=0 produce in between gets none.
func TestPipelining(t *testing.T) {
	b := startBroker(t)
	if _, err := b.topics.create("p", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, b)
	var raw []byte
	for i := int32(0); i < 6; i++ {
		var req kmsg.Request
		if i == 2 {
			pr := kmsg.NewPtrProduceRequest()
			pr.Version = 7
			pr.Acks = 0
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "p"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = recordstest.Batch(recordstest.BatchOpts{Values: [][]byte{[]byte("x")}})
			rt.Partitions = append(rt.Partitions, rp)
			pr.Topics = append(pr.Topics, rt)
			req = pr
		} else {
			mr := kmsg.NewPtrMetadataRequest()
			mr.Version = 4
			req = mr
		}
		raw = append(raw, frame(req, 100+i)...)
	}
	c.send(raw)
	for _, want := range []int32{100, 101, 103, 104, 105} {
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = 4
		if corr := c.read(resp, false); corr != want {
			t.Fatalf("got correlation id %d, want %d", corr, want)
		}
	}
	if end := b.topics.partition("p", 0).log.EndOffset(); end != 1 {
		t.Fatalf("acks=0 produce: log end %d, want 1", end)
	}
}
