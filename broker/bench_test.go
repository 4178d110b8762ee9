package broker

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// benchConn is a raw client that pipelines pre-encoded requests, so the
// benchmark measures the broker, not a client library.
type benchConn struct {
	nc  net.Conn
	buf []byte
	sz  [4]byte
}

func dialBench(b testing.TB, br *Broker) *benchConn {
	nc, err := net.Dial("tcp", br.Addr())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	return &benchConn{nc: nc, buf: make([]byte, 4<<20)}
}

// readResponse reads one response frame (valid until the next read).
func (c *benchConn) readResponse(b testing.TB) []byte {
	if _, err := io.ReadFull(c.nc, c.sz[:]); err != nil {
		b.Fatal(err)
	}
	n := int(binary.BigEndian.Uint32(c.sz[:]))
	if n > len(c.buf) {
		c.buf = make([]byte, n)
	}
	if _, err := io.ReadFull(c.nc, c.buf[:n]); err != nil {
		b.Fatal(err)
	}
	return c.buf[:n]
}

// BenchmarkProduce sends acks=1 produce requests of one batch each, 8 in
// flight, to one partition.
func BenchmarkProduce(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, codec := range []int8{0, 4} {
			b.Run(fmt.Sprintf("MsgSz=%dB/Codec=%d/Batch=64KiB", size, codec), func(b *testing.B) {
				br := startBroker(b, func(c *Config) { c.Logf = func(string, ...any) {} })
				if _, err := br.topics.create("bench", 1, nil, false); err != nil {
					b.Fatal(err)
				}
				vals := recordstest.Values((64<<10)/size, size)
				batch := recordstest.Batch(recordstest.BatchOpts{Values: vals, Codec: codec})
				req := kmsg.NewPtrProduceRequest()
				req.Version = 9
				req.Acks = 1
				req.TimeoutMillis = 5000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic = "bench"
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = batch
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				frame := frame(req, 1)
				c := dialBench(b, br)
				const window = 8
				b.SetBytes(int64(len(vals) * size))
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				inflight := 0
				for i := 0; i < b.N; i++ {
					if _, err := c.nc.Write(frame); err != nil {
						b.Fatal(err)
					}
					if inflight++; inflight == window {
						c.readResponse(b)
						inflight--
					}
				}
				for ; inflight > 0; inflight-- {
					c.readResponse(b)
				}
				b.ReportMetric(float64(b.N*len(vals))/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkFetch reads 1 MiB per fetch from a filled partition, served with
// sendfile.
func BenchmarkFetch(b *testing.B) {
	br := startBroker(b, func(c *Config) { c.Logf = func(string, ...any) {} })
	if _, err := br.topics.create("bench", 1, nil, false); err != nil {
		b.Fatal(err)
	}
	p := br.topics.partition("bench", 0)
	batch := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(64, 1024)})
	for p.log.Size() < 256<<20 {
		if _, _, err := p.log.Append(append([]byte(nil), batch...), 0); err != nil {
			b.Fatal(err)
		}
	}
	p.becomeLeader(br.cfg.NodeID, 0, 0, []int32{br.cfg.NodeID}, []int32{br.cfg.NodeID})
	end := p.log.EndOffset()
	c := dialBench(b, br)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	// Walk the log in 1 MiB steps (each batch holds 64 records), wrapping.
	off := int64(0)
	sent := br.SendfileBytes()
	step := int64(((1 << 20) / len(batch)) * 64)
	for i := 0; i < b.N; i++ {
		req.Topics[0].Partitions[0].FetchOffset = off
		if _, err := c.nc.Write(frame(req, int32(i))); err != nil {
			b.Fatal(err)
		}
		c.readResponse(b)
		if off += step; off >= end-step {
			off = 0
		}
	}
	b.StopTimer()
	if br.SendfileBytes() == sent {
		b.Fatal("fetch did not use sendfile")
	}
}
