package nullbroker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestWriteFetchMatchesKmsg: for every fetch version the null broker
// offers, the hand-framed writev response is byte for byte what kmsg
// encodes for the same response with the record bytes inline.
func TestWriteFetchMatchesKmsg(t *testing.T) {
	tm, err := buildTemplates(cfg{key: []byte("k"), value: make([]byte, 200), batchBytes: 1500, timestampMs: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for v := int16(4); v <= 12; v++ {
		for trial := range 5 {
			t.Run(fmt.Sprintf("v%d/%d", v, trial), func(t *testing.T) {
				resp := kmsg.NewPtrFetchResponse()
				resp.Version, resp.ThrottleMillis, resp.ErrorCode, resp.SessionID = v, rng.Int32N(100), int16(rng.IntN(3)), rng.Int32()
				var recs [][]servedBatch
				for ti := range 1 + rng.IntN(3) {
					rt := kmsg.NewFetchResponseTopic()
					rt.Topic = fmt.Sprintf("topic-%d-%s", ti, bytes.Repeat([]byte("x"), rng.IntN(200)))
					for pi := range rng.IntN(4) {
						p := kmsg.NewFetchResponseTopicPartition()
						p.Partition, p.ErrorCode = int32(pi), int16(rng.IntN(2))
						p.HighWatermark, p.LastStableOffset, p.LogStartOffset = rng.Int64(), rng.Int64(), rng.Int64()
						p.PreferredReadReplica = rng.Int32N(3) - 1
						if rng.IntN(3) == 0 {
							a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
							a.ProducerID, a.FirstOffset = rng.Int64(), rng.Int64()
							p.AbortedTransactions = append(p.AbortedTransactions, a)
						}
						var bs []servedBatch
						switch rng.IntN(3) {
						case 0: // null records
						case 1:
							from := rng.Int64N(1 << 40)
							bs, _ = tm.serve(nil, from, from+1+rng.Int64N(40), 1<<20, true)
						case 2:
							bs = []servedBatch{}
						}
						recs = append(recs, bs)
						rt.Partitions = append(rt.Partitions, p)
					}
					resp.Topics = append(resp.Topics, rt)
				}
				got := writeFetchBytes(t, header{key: 1, version: v, corr: 7}, resp, recs)

				// kmsg's encoding, with the same records inline.
				k := 0
				for i := range resp.Topics {
					for j := range resp.Topics[i].Partitions {
						if recs[k] != nil {
							resp.Topics[i].Partitions[j].RecordBatches = appendBatches([]byte{}, recs[k])
						}
						k++
					}
				}
				want := binary.BigEndian.AppendUint32(nil, 0)
				want = binary.BigEndian.AppendUint32(want, 7)
				if v >= 12 {
					want = append(want, 0)
				}
				want = resp.AppendTo(want)
				binary.BigEndian.PutUint32(want, uint32(len(want)-4))
				if !bytes.Equal(got, want) {
					i := 0
					for i < min(len(got), len(want)) && got[i] == want[i] {
						i++
					}
					t.Fatalf("writev bytes differ from kmsg at byte %d (got %d bytes, want %d)", i, len(got), len(want))
				}
			})
		}
	}
}

// writeFetchBytes runs writeFetch into a real socket and returns what the
// peer read.
func writeFetchBytes(t *testing.T, h header, resp *kmsg.FetchResponse, recs [][]servedBatch) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	read := make(chan []byte, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			read <- nil
			return
		}
		defer nc.Close()
		b, _ := io.ReadAll(nc)
		read <- b
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{w: nc}
	if err := c.writeFetch(h, resp, recs); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	return <-read
}
