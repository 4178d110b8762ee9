//go:build soak

package broker

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// The soak test (make test-soak): a broker process serves soakConns
// concurrent connections of mixed produce/fetch/metadata for soakLoad while
// a stream of malformed frames arrives on other connections. It must keep
// serving every well-formed connection, stay under soakRSSBound, and every
// acknowledged record must be read back at its offset.
const (
	soakConns      = 1000
	soakLoad       = 90 * time.Second
	soakPartitions = 8
	soakRSSBound   = 512 << 20
	// soakOpInterval paces each connection: about 1000/0.2 s = 5000
	// requests/s in all, what two cores sustain beside the clients.
	soakOpInterval = 200 * time.Millisecond
)

// soakBroker runs the broker as a child process (TestMain's
// KBENCH_CHILD_BROKER mode), so its RSS is its own.
func soakBroker(t *testing.T) (addr string, pid int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "KBENCH_CHILD_BROKER="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("child broker: %q %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "ADDR ")), cmd.Process.Pid
}

// procKB reads a "Vm...: N kB" field of /proc/pid/status.
func procKB(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return -1
}

// ackedBatch is one acknowledged produce: its records must be at
// base..base+len(values)-1 of partition.
type ackedBatch struct {
	partition int32
	base      int64
	values    []string
}

type soakStats struct {
	produces, fetches, metadatas, malformed atomic.Int64
	connected, connErrors                   atomic.Int64
	okByWindow                              [64]atomic.Int64 // successful requests per 5 s window
}

// soakClient speaks the wire protocol on one connection, one request at a time.
type soakClient struct {
	nc   net.Conn
	corr int32
	rbuf []byte
}

func (c *soakClient) roundTrip(req kmsg.Request, resp kmsg.Response) error {
	c.corr++
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write(frame(req, c.corr)); err != nil {
		return err
	}
	var sz [4]byte
	if _, err := io.ReadFull(c.nc, sz[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(sz[:]))
	if cap(c.rbuf) < n {
		c.rbuf = make([]byte, n)
	}
	body := c.rbuf[:n]
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return err
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != c.corr {
		return fmt.Errorf("correlation id %d, want %d", corr, c.corr)
	}
	resp.SetVersion(req.GetVersion())
	body = body[4:]
	if resp.IsFlexible() && req.Key() != apiVersionsKey {
		body = body[1:] // the response header's tag section
	}
	return resp.ReadFrom(body)
}

func TestSoak(t *testing.T) {
	addr, pid := soakBroker(t)
	ctx := testCtx(t, 3*time.Minute)
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	if _, err := kadm.NewClient(admCl).CreateTopic(ctx, soakPartitions, 1, nil, "soak"); err != nil {
		t.Fatal(err)
	}
	rssIdle := procKB(pid, "VmRSS")

	var (
		stats   soakStats
		mu      sync.Mutex
		acked   []ackedBatch
		wg      sync.WaitGroup
		start   = time.Now()
		loadEnd = start.Add(soakLoad)
		failed  atomic.Value
	)
	fail := func(err error) { failed.CompareAndSwap(nil, err) }
	window := func() int { return min(int(time.Since(start)/(5*time.Second)), len(stats.okByWindow)-1) }

	// Well-formed clients: connect all first, then load.
	ready := make(chan struct{})
	for i := 0; i < soakConns; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", addr, 30*time.Second)
			if err != nil {
				stats.connErrors.Add(1)
				fail(fmt.Errorf("connection %d: dial: %w", id, err))
				return
			}
			defer nc.Close()
			stats.connected.Add(1)
			c := &soakClient{nc: nc}
			rng := rand.New(rand.NewPCG(uint64(id), 7))
			<-ready
			// Spread the connections' phases over one interval.
			time.Sleep(time.Duration(rng.Int64N(int64(soakOpInterval))))
			seq := 0
			for time.Now().Before(loadEnd) && failed.Load() == nil {
				var err error
				switch op := rng.IntN(10); {
				case op < 5:
					err = soakProduce(c, id, &seq, rng, &mu, &acked)
					stats.produces.Add(1)
				case op < 9:
					err = soakFetch(c, rng)
					stats.fetches.Add(1)
				default:
					md := kmsg.NewPtrMetadataRequest()
					md.Version = 9
					md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("soak")}}
					resp := kmsg.NewPtrMetadataResponse()
					if err = c.roundTrip(md, resp); err == nil && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != soakPartitions) {
						err = fmt.Errorf("metadata: %d topics", len(resp.Topics))
					}
					stats.metadatas.Add(1)
				}
				if err != nil {
					stats.connErrors.Add(1)
					fail(fmt.Errorf("connection %d after %s: %w", id, time.Since(start).Round(time.Millisecond), err))
					return
				}
				stats.okByWindow[window()].Add(1)
				time.Sleep(soakOpInterval)
			}
		}(i)
	}
	waitFor := time.Now().Add(60 * time.Second)
	for stats.connected.Load()+stats.connErrors.Load() < soakConns && time.Now().Before(waitFor) {
		time.Sleep(50 * time.Millisecond)
	}
	held := stats.connected.Load()
	close(ready)

	// Malformed frames on their own connections, from the corpus and random.
	corpus := corpusStreams(t)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for time.Now().Before(loadEnd) && failed.Load() == nil {
				var in []byte
				if rng.IntN(3) == 0 {
					in = make([]byte, 4+rng.IntN(300))
					for i := range in {
						in[i] = byte(rng.UintN(256))
					}
				} else {
					in = corpus[rng.IntN(len(corpus))]
				}
				nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					fail(fmt.Errorf("malformed sender: dial: %w", err))
					return
				}
				// Cases the broker answers without closing end at the deadline.
				nc.SetDeadline(time.Now().Add(500 * time.Millisecond))
				nc.Write(in)
				io.Copy(io.Discard, nc) // until the broker closes or the deadline
				nc.Close()
				stats.malformed.Add(1)
			}
		}(w)
	}

	// Sample the broker's RSS while the load runs.
	var rssPeak int64
	for time.Now().Before(loadEnd) && failed.Load() == nil {
		if r := procKB(pid, "VmRSS"); r > rssPeak {
			rssPeak = r
		}
		time.Sleep(time.Second)
	}
	wg.Wait()
	hwm := procKB(pid, "VmHWM")
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if held != soakConns {
		t.Fatalf("held %d connections at once, want %d", held, soakConns)
	}
	windows := int(soakLoad / (5 * time.Second))
	for w := 0; w < windows; w++ {
		if stats.okByWindow[w].Load() == 0 {
			t.Fatalf("no successful request in window %d (%s-%s)", w, time.Duration(w)*5*time.Second, time.Duration(w+1)*5*time.Second)
		}
	}

	// Audit: every acknowledged record is where its ack said.
	want := map[int32]map[int64]string{}
	records := 0
	for _, a := range acked {
		if want[a.partition] == nil {
			want[a.partition] = map[int64]string{}
		}
		for i, v := range a.values {
			want[a.partition][a.base+int64(i)] = v
			records++
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("soak"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := 0
	for seen < records && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil && ctx.Err() == nil {
			t.Fatalf("audit consume: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if v, ok := want[r.Partition][r.Offset]; ok {
				if v != string(r.Value) {
					t.Fatalf("partition %d offset %d: got %q, want the acknowledged %q", r.Partition, r.Offset, r.Value, v)
				}
				delete(want[r.Partition], r.Offset)
				seen++
			}
		})
	}
	if seen != records {
		t.Fatalf("audit: read back %d of %d acknowledged records", seen, records)
	}
	elapsed := time.Since(start)
	t.Logf("soak: %d connections held; %s of load; %d produce, %d fetch, %d metadata requests (%.0f/s); %d malformed connections; 0 well-formed connections lost",
		held, soakLoad, stats.produces.Load(), stats.fetches.Load(), stats.metadatas.Load(),
		float64(stats.produces.Load()+stats.fetches.Load()+stats.metadatas.Load())/soakLoad.Seconds(), stats.malformed.Load())
	t.Logf("soak: broker RSS idle %d MiB, peak sampled %d MiB, VmHWM %d MiB (bound %d MiB)", rssIdle>>10, rssPeak>>10, hwm>>10, soakRSSBound>>20)
	t.Logf("soak: %d acknowledged records in %d batches audited, all at their acknowledged offsets; total %s", records, len(acked), elapsed.Round(time.Second))
	if hwm<<10 > soakRSSBound {
		t.Fatalf("broker peak RSS %d MiB above the %d MiB bound", hwm>>10, soakRSSBound>>20)
	}
}

func soakProduce(c *soakClient, id int, seq *int, rng *rand.Rand, mu *sync.Mutex, acked *[]ackedBatch) error {
	n := 1 + rng.IntN(5)
	values := make([]string, n)
	raw := make([][]byte, n)
	for i := range values {
		*seq++
		v := fmt.Sprintf("c%04d-%08d-", id, *seq)
		v += strings.Repeat("x", 100-len(v))
		values[i], raw[i] = v, []byte(v)
	}
	part := int32(rng.IntN(soakPartitions))
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 7, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "soak"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, recordstest.Batch(recordstest.BatchOpts{Values: raw, Timestamp: time.Now().UnixMilli()})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrProduceResponse()
	if err := c.roundTrip(req, resp); err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("produce: malformed response")
	}
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		return fmt.Errorf("produce: error code %d", sp.ErrorCode)
	}
	mu.Lock()
	*acked = append(*acked, ackedBatch{partition: part, base: sp.BaseOffset, values: values})
	mu.Unlock()
	return nil
}

func soakFetch(c *soakClient, rng *rand.Rand) error {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 11, -1, 50, 1, 256<<10
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "soak"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = int32(rng.IntN(soakPartitions)), 0, 64<<10, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrFetchResponse()
	if err := c.roundTrip(req, resp); err != nil {
		return err
	}
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		return fmt.Errorf("fetch: unexpected response")
	}
	return nil
}
