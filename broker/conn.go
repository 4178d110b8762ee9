package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/wire"
)

// idleTimeout is connections.max.idle.ms: a connection that sends nothing for
// this long is closed, as Kafka does.
const idleTimeout = 10 * time.Minute

// readerGoneGrace is how long responses may still be written once a
// connection's reader stopped (EOF or a bad frame).
const readerGoneGrace = time.Second

// maxPipeline bounds how many requests of one connection may be read ahead of
// their responses; the reader blocks beyond it.
const maxPipeline = 64

type reqHeader struct {
	key, version int16
	corr         int32
	clientID     string
}

// reply is what a handler returns: an immediate message, a function to run
// asynchronously (long-poll fetch, acks=all purgatory), a zero-copy fetch body,
// or nothing at all (acks=0).
type reply struct {
	msg   kmsg.Response
	fetch *fetchWire
	later func() reply
	none  bool
	// acks parks an acks=all produce until its partitions' high watermarks
	// pass its batches, or its timeout (purgatory.go).
	acks *ackRequest
	// raw is a bare SASL token answering a SaslHandshake v0 exchange: no
	// response header. closeAfter closes the connection once msg is written
	// (failed authentication).
	raw        []byte
	closeAfter bool
}

// pending is one request's slot in a connection's in-order response queue.
type pending struct {
	hdr      reqHeader
	ready    chan struct{} // nil when r is set at creation
	r        reply
	inflight int64
	received time.Time // for the latency metric; zero without metrics
	// handoff settles who lets go of a response nobody will write:
	// handoffDone is set once a handler's asynchronous part stored r,
	// handoffAbandoned once the connection gave up on it; whoever comes
	// second releases r's files (abandon, finishLater). Parked acks=all
	// responses hold no files and never set handoffDone.
	handoff atomic.Uint32
}

const (
	handoffDone = 1 << iota
	handoffAbandoned
)

// abandon is called for a pending response the connection will not write
// (it closed first): its segment references go back now or, if the
// handler is still running, when it finishes.
func (p *pending) abandon() {
	if p.ready == nil || p.handoff.Or(handoffAbandoned)&handoffDone != 0 {
		p.discard()
	}
}

// discard lets go of what an unwritten response holds.
func (p *pending) discard() {
	if p.r.fetch != nil {
		p.r.fetch.release()
	}
}

// maxReusedFrame bounds the produce frame buffer a connection keeps.
const maxReusedFrame = 8 << 20

type conn struct {
	b    *Broker
	rbuf []byte // reusable frame buffer (produce requests only)
	nc   net.Conn
	out  chan *pending
	done chan struct{} // closed when the connection is torn down
	once sync.Once
	wbuf []byte

	// nc above is a *tls.Conn on SSL listeners; auth is nil unless the
	// listener uses SASL (sasl.go); quota bounds this connection's in-flight
	// request bytes (limits.go).
	auth  *connAuth
	quota *byteSemaphore

	// clientID is the last request's client id, reused while it repeats
	// (clients send the same one on every request). produce decodes every
	// produce request into one reused struct (produce_decode.go): produce is
	// handled before the next read.
	clientID string
	produce  produceDecoder
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// serve runs the reader in this goroutine and the writer in another.
func (c *conn) serve() {
	defer c.b.wg.Done()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	err := c.readLoop()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.b.cfg.Logf("conn %s: %v", c.nc.RemoteAddr(), err)
		c.b.metrics.connError()
	}
	close(c.out)
	// Answers already due are still written, but a long poll (max wait up to
	// 2^31 ms) must not hold a gone client's goroutines and connection slot:
	// after a grace period the connection closes, which ends it.
	grace := time.AfterFunc(readerGoneGrace, c.close)
	wg.Wait()
	grace.Stop()
	c.close()
}

func (c *conn) readLoop() error {
	var sizeBuf [4]byte
	if err := c.handshake(); err != nil {
		return err
	}
	for {
		c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
		if _, err := io.ReadFull(c.nc, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if c.auth != nil && c.auth.raw {
			p, err := c.readRawToken(size)
			if err != nil {
				return err
			}
			select {
			case c.out <- p:
			case <-c.done:
				return net.ErrClosed
			}
			continue
		}
		if size < 8 || size > c.b.cfg.MaxRequestBytes {
			return fmt.Errorf("request size %d outside [8, socket.request.max.bytes=%d]: closing connection", size, c.b.cfg.MaxRequestBytes)
		}
		if err := c.acquire(int64(size)); err != nil {
			return err
		}
		// Produce requests are handled (appended) before the next read, so
		// their frame buffer is reused; any other request may keep references
		// into its frame (kmsg decodes byte fields as sub-slices), so the
		// buffer is handed over to it and a new one allocated next time.
		if cap(c.rbuf) < int(size) {
			c.rbuf = make([]byte, size)
		}
		buf := c.rbuf[:size]
		if _, err := io.ReadFull(c.nc, buf); err != nil {
			c.release(int64(size))
			return err
		}
		if key := int16(binary.BigEndian.Uint16(buf)); key != 0 || cap(c.rbuf) > maxReusedFrame {
			c.rbuf = nil
		}
		received := c.b.metrics.received(len(buf) + 4)
		p, err := c.handleFrame(buf)
		if err != nil {
			c.release(int64(size))
			return err
		}
		if p == nil { // no response (acks=0)
			c.release(int64(size))
			c.b.metrics.responded(int16(binary.BigEndian.Uint16(buf)), received, nil)
			continue
		}
		p.inflight = int64(size)
		p.received = received
		select {
		case c.out <- p:
		case <-c.done:
			c.release(int64(size))
			p.abandon()
			return net.ErrClosed
		}
	}
}

// handleFrame parses one request and runs its handler. It returns nil for a
// request that gets no response, and an error when the connection must close.
func (c *conn) handleFrame(buf []byte) (p *pending, err error) {
	var h reqHeader
	defer func() {
		// A handler bug must cost one connection, never the broker; the
		// stack goes to the log so the bug can be found.
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("internal error handling request (API key %d v%d): %v\n%s", h.key, h.version, v, debug.Stack())
		}
	}()
	h.key = int16(binary.BigEndian.Uint16(buf[0:]))
	h.version = int16(binary.BigEndian.Uint16(buf[2:]))
	h.corr = int32(binary.BigEndian.Uint32(buf[4:]))
	body := buf[8:]
	if len(body) < 2 {
		return nil, fmt.Errorf("truncated request header")
	}
	idLen := int16(binary.BigEndian.Uint16(body))
	body = body[2:]
	if idLen > 0 {
		if int(idLen) > len(body) {
			return nil, fmt.Errorf("truncated client id")
		}
		if id := body[:idLen]; string(id) != c.clientID {
			c.clientID = string(id)
		}
		h.clientID = c.clientID
		body = body[idLen:]
	}
	if err := c.checkAuth(h.key); err != nil {
		return nil, err
	}

	if h.key == apiVersionsKey && !supported(h.key, h.version) {
		// KIP-511: answer an unknown ApiVersions version in v0 format with
		// UNSUPPORTED_VERSION and our ranges, so the client retries lower.
		resp := apiVersionsResponse(0)
		resp.ErrorCode = errUnsupportedVersion
		return &pending{hdr: reqHeader{key: h.key, version: 0, corr: h.corr}, r: reply{msg: resp}}, nil
	}
	if !(supported(h.key, h.version) || fromController(&h) && supportedInternal(h.key, h.version)) || kmsg.NameForKey(h.key) == "" {
		return nil, fmt.Errorf("unsupported request key %d version %d from %q", h.key, h.version, h.clientID)
	}
	if flexible(h.key, h.version) {
		if body, err = wire.SkipTags(body); err != nil {
			return nil, fmt.Errorf("key %d v%d: request header tags: %w", h.key, h.version, err)
		}
	}
	var r reply
	if h.key == produceKey {
		// The frame buffer is reused by the next produce request, and so is
		// the decoded struct (its strings alias the frame); handleProduce
		// copies none of them into its response.
		pr, err := c.produce.decode(h.version, body)
		if err != nil {
			return nil, fmt.Errorf("key %d v%d: malformed request: %w", h.key, h.version, err)
		}
		r = c.b.handleProduce(pr)
	} else {
		req := kmsg.RequestForKey(h.key)
		req.SetVersion(h.version)
		if err := req.ReadFrom(body); err != nil {
			return nil, fmt.Errorf("key %d v%d: malformed request: %w", h.key, h.version, err)
		}
		hh := h // handlers may keep the header; h itself stays on the stack
		r = c.b.dispatch(c, &hh, req)
	}
	if r.none {
		return nil, nil
	}
	if r.acks != nil {
		np := newPending(h, reply{}) // its reply is set when the last slot settles
		np.ready = make(chan struct{})
		r.acks.park(c, np)
		return np, nil
	}
	np := newPending(h, r)
	if r.later != nil {
		np.ready = make(chan struct{})
		c.b.metrics.enterPurgatory(h.key)
		go c.finishLater(np, r.later)
	}
	return np, nil
}

// finishLater runs a handler's asynchronous part (reply.later: long-poll
// fetches, group joins, requests waiting on the controller) and marks the
// pending response ready.
func (c *conn) finishLater(p *pending, later func() reply) {
	defer close(p.ready)
	defer c.b.metrics.leavePurgatory(p.hdr.key)
	defer func() {
		if v := recover(); v != nil {
			c.b.cfg.Logf("conn %s: internal error: %v", c.nc.RemoteAddr(), v)
			c.close()
		}
	}()
	p.r = later()
	if p.handoff.Or(handoffDone)&handoffAbandoned != 0 {
		p.discard() // the connection is gone: nobody will write it
	}
}

var errDroppedByHook = errors.New("response dropped by test hook, closing connection")

func (c *conn) writeLoop() {
	for p := range c.out {
		if p.ready != nil {
			select {
			case <-p.ready:
			case <-c.done:
				c.release(p.inflight)
				p.abandon()
				continue
			}
		}
		if p.r.msg == nil && p.r.fetch == nil && p.r.raw == nil { // its handler failed
			c.release(p.inflight)
			continue
		}
		err := c.writeReply(p)
		c.release(p.inflight)
		if err != nil {
			c.b.cfg.Logf("conn %s: write: %v", c.nc.RemoteAddr(), err)
			c.close()
			continue
		}
		c.b.metrics.responded(p.hdr.key, p.received, &p.r)
		if p.r.closeAfter {
			c.close()
		}
		p.recycle()
	}
}

func (c *conn) writeReply(p *pending) error {
	if p.r.fetch != nil {
		defer p.r.fetch.release()
	}
	if h := c.b.cfg.Hooks; h != nil && h.DropResponse != nil && h.DropResponse(p.hdr.key) {
		return errDroppedByHook
	}
	if p.hdr.key == 0 {
		if f := math.Float64frombits(c.b.dropProduce.Load()); f > 0 && rand.Float64() < f {
			return errDroppedByHook
		}
	}
	c.nc.SetWriteDeadline(time.Now().Add(2 * idleTimeout))
	if p.r.raw != nil {
		b, err := writeRawToken(c.nc, c.wbuf, p.r.raw)
		c.wbuf = b
		c.b.metrics.sent(len(b))
		return err
	}
	// Header: size (patched below), correlation id, and an empty tag section
	// when the response is flexible — except ApiVersions, whose response
	// header never carries tags.
	b := append(c.wbuf[:0], 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(p.hdr.corr))
	if flexible(p.hdr.key, p.hdr.version) && p.hdr.key != apiVersionsKey {
		b = append(b, 0)
	}
	if p.r.fetch != nil {
		c.wbuf = b
		return p.r.fetch.writeTo(c, b)
	}
	b = p.r.msg.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.wbuf = b
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil // do not pin a large buffer per idle connection
	}
	c.b.metrics.sent(len(b))
	_, err := c.nc.Write(b)
	return err
}

// byteSemaphore bounds in-flight request bytes across all connections.
type byteSemaphore struct {
	mu    sync.Mutex
	cond  *sync.Cond
	avail int64
}

func newByteSemaphore(n int64) *byteSemaphore {
	s := &byteSemaphore{avail: n}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// acquire waits until n bytes are available or done is closed.
func (s *byteSemaphore) acquire(n int64, done <-chan struct{}) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.avail < n {
		select {
		case <-done:
			return net.ErrClosed
		default:
		}
		// Wake periodically to notice done; releases also broadcast.
		t := time.AfterFunc(100*time.Millisecond, s.cond.Broadcast)
		s.cond.Wait()
		t.Stop()
	}
	s.avail -= n
	return nil
}

func (s *byteSemaphore) release(n int64) {
	s.mu.Lock()
	s.avail += n
	s.mu.Unlock()
	s.cond.Broadcast()
}
