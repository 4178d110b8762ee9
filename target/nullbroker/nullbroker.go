// Package nullbroker is the "ceiling" broker of the broker performance
// harness: it speaks just enough of the Kafka protocol for franz-go to produce
// and consume, and does as little work as a broker possibly can. Produce is
// acknowledged without storing anything (only each partition's offset counter
// advances), and Fetch is answered from record batches built once at start,
// rebased to the offsets asked for. Running a workload against it measures
// what the client and loopback alone cost: the physical limit for that
// workload on this machine, against which real brokers are compared.
//
// With StoreDir it is the store-only ceiling instead: every produced batch
// is also appended, as received, to a file per partition, so the limit
// includes writing the bytes (to the page cache, no fsync) but nothing else
// a broker does (no validation, no index, no replication).
//
// It listens on loopback only. Every request is decoded and every response
// encoded with franz-go's kmsg. Requests on one connection are answered one
// at a time, in order, as Kafka does.
package nullbroker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/wire"
)

// NodeID is the broker id the null broker reports in metadata.
const NodeID = 1

// maxFrame bounds a request's size; larger frames close the connection.
const maxFrame = 100 << 20

// Opt configures a null broker.
type Opt interface{ apply(*cfg) }

type optFunc func(*cfg)

func (f optFunc) apply(c *cfg) { f(c) }

type cfg struct {
	listen      string
	partitions  int32
	key, value  []byte
	headers     []kmsg.Header
	batchBytes  int
	autoCreate  bool
	timestampMs int64
	storeDir    string
}

// Listen sets the listen address, overriding 127.0.0.1:0. Only loopback
// addresses are accepted.
func Listen(addr string) Opt { return optFunc(func(c *cfg) { c.listen = addr }) }

// DefaultPartitions sets the partition count of topics created without one,
// overriding 6.
func DefaultPartitions(n int32) Opt { return optFunc(func(c *cfg) { c.partitions = n }) }

// FetchRecord sets the record every fetched batch repeats, overriding an
// unkeyed, header-less record with a 1024-byte value.
func FetchRecord(key, value []byte, headers ...kmsg.Header) Opt {
	return optFunc(func(c *cfg) { c.key, c.value, c.headers = key, value, headers })
}

// BatchBytes sets roughly how many bytes each served batch holds, overriding
// 16384 (a producer's default batch.size, so batches resemble what a real
// broker would have stored). A batch holds at least one record.
func BatchBytes(n int) Opt { return optFunc(func(c *cfg) { c.batchBytes = n }) }

// AutoCreateTopics makes Metadata requests that allow it create unknown
// topics, overriding false.
func AutoCreateTopics() Opt { return optFunc(func(c *cfg) { c.autoCreate = true }) }

// StoreDir makes produce append every batch, as received, to the file
// DIR/<topic>-<partition>.log, overriding storing nothing. DIR must exist.
func StoreDir(dir string) Opt { return optFunc(func(c *cfg) { c.storeDir = dir }) }

// Timestamp sets the CreateTime (ms since the epoch) of served records,
// overriding the time of Start.
func Timestamp(ms int64) Opt { return optFunc(func(c *cfg) { c.timestampMs = ms }) }

func (c *cfg) validate() error {
	host, _, err := net.SplitHostPort(c.listen)
	if err != nil {
		return fmt.Errorf("nullbroker: listen %q: %w", c.listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("nullbroker: listen %q: only loopback addresses are allowed", c.listen)
	}
	if c.partitions < 1 {
		return fmt.Errorf("nullbroker: %d default partitions: want at least 1", c.partitions)
	}
	if c.batchBytes < 1 {
		return fmt.Errorf("nullbroker: batch bytes %d: want at least 1", c.batchBytes)
	}
	return nil
}

// Broker is a running null broker.
type Broker struct {
	cfg   cfg
	ln    net.Listener
	host  string
	port  int32
	batch *templates

	mu     sync.RWMutex
	topics map[string]*topic

	producerIDs atomic.Int64

	// waiters counts fetches waiting for data; produce only takes wakeMu
	// when someone waits.
	waiters atomic.Int32
	wakeMu  sync.Mutex
	wake    chan struct{} // closed and replaced when records arrive

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	connMu sync.Mutex
	conns  map[net.Conn]struct{}
}

type topic struct {
	parts []*partition
}

type partition struct {
	// end is the next offset: the count of records produced so far.
	// Without a store the log is virtual, so it is all the partition keeps.
	end atomic.Int64

	// With a store, mu orders appends with their offsets; file is opened
	// at the first append.
	mu   sync.Mutex
	path string
	file *os.File
}

// appendBatch assigns n offsets to batch and writes it to the partition's
// file; it returns the base offset.
func (p *partition) appendBatch(batch []byte, n int64) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.file == nil {
		f, err := os.OpenFile(p.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return 0, err
		}
		p.file = f
	}
	if _, err := p.file.Write(batch); err != nil {
		return 0, err
	}
	return p.end.Add(n) - n, nil
}

// closeFile closes the partition's file, if it has one.
func (p *partition) closeFile() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.file == nil {
		return nil
	}
	err := p.file.Close()
	p.file = nil
	return err
}

// Start listens and serves until Close or until ctx is cancelled.
func Start(ctx context.Context, opts ...Opt) (*Broker, error) {
	c := cfg{listen: "127.0.0.1:0", partitions: 6, value: make([]byte, 1024), batchBytes: 16384}
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	tmpl, err := buildTemplates(c)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return nil, fmt.Errorf("nullbroker: %w", err)
	}
	host, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	b := &Broker{
		cfg: c, ln: ln, host: host, port: int32(port), batch: tmpl,
		topics: map[string]*topic{},
		wake:   make(chan struct{}),
		conns:  map[net.Conn]struct{}{},
	}
	b.ctx, b.cancel = context.WithCancel(ctx)
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.accept()
	}()
	go func() {
		defer b.wg.Done()
		<-b.ctx.Done()
		b.ln.Close()
		b.connMu.Lock()
		for cn := range b.conns {
			cn.Close()
		}
		b.connMu.Unlock()
	}()
	return b, nil
}

// Addr is the bound host:port.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Close stops listening, closes every connection and waits for them, then
// closes the store's files.
func (b *Broker) Close() error {
	b.cancel()
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, t := range b.topics {
		for _, p := range t.parts {
			errs = append(errs, p.closeFile())
		}
	}
	return errors.Join(errs...)
}

// End returns the next offset of a partition (its record count), or -1 when
// the partition does not exist.
func (b *Broker) End(topicName string, part int32) int64 {
	p := b.partition(topicName, part)
	if p == nil {
		return -1
	}
	return p.end.Load()
}

func (b *Broker) accept() {
	for {
		cn, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.connMu.Lock()
		if b.ctx.Err() != nil {
			b.connMu.Unlock()
			cn.Close()
			return
		}
		b.conns[cn] = struct{}{}
		b.connMu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() {
				b.connMu.Lock()
				delete(b.conns, cn)
				b.connMu.Unlock()
				cn.Close()
			}()
			// A broken or closed connection simply ends; the client
			// notices and reconnects.
			_ = b.serve(cn)
		}()
	}
}

// conn is one client connection's reusable state.
type conn struct {
	b    *Broker
	r    *bufio.Reader
	w    net.Conn
	body []byte // the current request, reused
	out  []byte // the current response (a fetch response's framing), reused

	// Fetch scratch, reused: batches served, per partition, the framing
	// cut points, base offsets and the writev list.
	served []servedBatch
	recs   [][]servedBatch
	cuts   []int
	offs   []byte
	bufs   [][]byte
}

// header is a decoded request header.
type header struct {
	key, version int16
	corr         int32
}

func (b *Broker) serve(nc net.Conn) error {
	c := &conn{b: b, r: bufio.NewReaderSize(nc, 64<<10), w: nc}
	var size [4]byte
	for {
		if _, err := io.ReadFull(c.r, size[:]); err != nil {
			return err
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 8 || n > maxFrame {
			return fmt.Errorf("request size %d out of range", n)
		}
		if cap(c.body) < int(n) {
			c.body = make([]byte, n)
		}
		c.body = c.body[:n]
		if _, err := io.ReadFull(c.r, c.body); err != nil {
			return err
		}
		h, rest, err := parseHeader(c.body)
		if err != nil {
			return err
		}
		if err := c.handle(h, rest); err != nil {
			return err
		}
	}
}

// parseHeader reads the request header (v1, or v2 with tagged fields for
// flexible requests) and returns the body after it.
func parseHeader(b []byte) (header, []byte, error) {
	h := header{
		key:     int16(binary.BigEndian.Uint16(b)),
		version: int16(binary.BigEndian.Uint16(b[2:])),
		corr:    int32(binary.BigEndian.Uint32(b[4:])),
	}
	b = b[8:]
	if len(b) < 2 {
		return h, nil, errors.New("short request header")
	}
	idLen := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if idLen > 0 {
		if int(idLen) > len(b) {
			return h, nil, errors.New("short client id")
		}
		b = b[idLen:]
	}
	req := kmsg.RequestForKey(h.key)
	if req == nil {
		return h, b, nil // unknown key: handle refuses it
	}
	req.SetVersion(h.version)
	// An unknown ApiVersions version may have any header: leave it alone.
	if supported(h.key, h.version) && req.IsFlexible() {
		var err error
		if b, err = wire.SkipTags(b); err != nil {
			return h, nil, err
		}
	}
	return h, b, nil
}

// handle dispatches one request. Unknown keys and versions outside what
// ApiVersions advertises close the connection, as Kafka does; ApiVersions
// itself answers an unknown version with UNSUPPORTED_VERSION (KIP-511).
func (c *conn) handle(h header, body []byte) error {
	if h.key != kmsg.ApiVersions.Int16() && !supported(h.key, h.version) {
		return fmt.Errorf("unsupported request key %d version %d", h.key, h.version)
	}
	var resp kmsg.Response
	var err error
	switch kmsg.Key(h.key) {
	case kmsg.Produce:
		resp, err = c.produce(h.version, body)
	case kmsg.Fetch:
		return c.fetch(h, body)
	case kmsg.ListOffsets:
		resp, err = c.b.listOffsets(h.version, body)
	case kmsg.Metadata:
		resp, err = c.b.metadata(h.version, body)
	case kmsg.ApiVersions:
		resp, err = apiVersions(h.version, body)
	case kmsg.CreateTopics:
		resp, err = c.b.createTopics(h.version, body)
	case kmsg.DeleteTopics:
		resp, err = c.b.deleteTopics(h.version, body)
	case kmsg.InitProducerID:
		resp, err = c.b.initProducerID(h.version, body)
	default:
		return fmt.Errorf("unsupported request key %d", h.key)
	}
	if err != nil {
		return err
	}
	if resp == nil { // acks=0 produce: no response
		return nil
	}
	return c.write(h, resp)
}

// write sends the response frame (wire.AppendResponse: size, correlation
// id, header tags for flexible responses but ApiVersions, body).
func (c *conn) write(h header, resp kmsg.Response) error {
	c.out = wire.AppendResponse(c.out[:0], wire.Header{Key: h.key, Version: h.version, Correlation: h.corr}, resp)
	_, err := c.w.Write(c.out)
	return err
}

func (b *Broker) partition(name string, part int32) *partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	t := b.topics[name]
	if t == nil || part < 0 || int(part) >= len(t.parts) {
		return nil
	}
	return t.parts[part]
}

// recordsArrived wakes fetches waiting for data.
func (b *Broker) recordsArrived() {
	if b.waiters.Load() == 0 {
		return
	}
	b.wakeMu.Lock()
	close(b.wake)
	b.wake = make(chan struct{})
	b.wakeMu.Unlock()
}

func (b *Broker) wakeChan() <-chan struct{} {
	b.wakeMu.Lock()
	defer b.wakeMu.Unlock()
	return b.wake
}

// newTopic makes a topic of n partitions, stored in files when the
// broker has a store.
func (b *Broker) newTopic(name string, n int32) *topic {
	t := &topic{parts: make([]*partition, n)}
	for i := range t.parts {
		t.parts[i] = &partition{}
		if b.cfg.storeDir != "" {
			t.parts[i].path = filepath.Join(b.cfg.storeDir, name+"-"+strconv.Itoa(i)+".log")
		}
	}
	return t
}
