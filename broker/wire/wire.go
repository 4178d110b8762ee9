// Package wire frames Kafka requests and responses over a TCP connection for
// kbench's own inter-node traffic (controller <-> brokers, follower fetches,
// transaction markers). Bodies are encoded and decoded with franz-go's kmsg.
package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Header is a decoded request header.
type Header struct {
	Key, Version int16
	Correlation  int32
	ClientID     string
}

// AppendRequest appends a size-prefixed request frame for req to dst.
func AppendRequest(dst []byte, req kmsg.Request, corr int32, clientID string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ReadFrame reads one size-prefixed frame of at most max bytes.
func ReadFrame(r io.Reader, max int32) ([]byte, error) { return readFrameInto(r, max, nil) }

// readFrameInto is ReadFrame into buf when it is large enough.
func readFrameInto(r io.Reader, max int32, buf []byte) ([]byte, error) {
	// The size prefix is read into buf too: a local array would escape to
	// the heap through the io.Reader on every call.
	if cap(buf) < 4 {
		buf = make([]byte, 4, 512)
	}
	sz := buf[:4]
	if _, err := io.ReadFull(r, sz); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz))
	if n < 4 || n > max {
		return nil, fmt.Errorf("frame size %d outside [4, %d]", n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// ParseRequest decodes a request frame (without its size prefix).
func ParseRequest(frame []byte) (Header, kmsg.Request, error) {
	var h Header
	if len(frame) < 10 {
		return h, nil, errors.New("truncated request header")
	}
	h.Key = int16(binary.BigEndian.Uint16(frame))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.Correlation = int32(binary.BigEndian.Uint32(frame[4:]))
	idLen := int16(binary.BigEndian.Uint16(frame[8:]))
	body := frame[10:]
	if idLen > 0 {
		if int(idLen) > len(body) {
			return h, nil, errors.New("truncated client id")
		}
		h.ClientID = string(body[:idLen])
		body = body[idLen:]
	}
	req := kmsg.RequestForKey(h.Key)
	if req == nil {
		return h, nil, fmt.Errorf("unknown request key %d", h.Key)
	}
	req.SetVersion(h.Version)
	if h.Version < 0 || h.Version > req.MaxVersion() {
		return h, nil, fmt.Errorf("key %d: unsupported version %d", h.Key, h.Version)
	}
	if req.IsFlexible() {
		var err error
		if body, err = SkipTags(body); err != nil {
			return h, nil, err
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return h, nil, fmt.Errorf("key %d v%d: %w", h.Key, h.Version, err)
	}
	return h, req, nil
}

// AppendResponse appends a size-prefixed response frame to dst.
func AppendResponse(dst []byte, h Header, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Correlation))
	if resp.IsFlexible() && h.Key != 18 {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// SkipTags skips a tagged-field section.
func SkipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[l:]
	for i := uint64(0); i < n; i++ {
		if _, l = binary.Uvarint(b); l <= 0 {
			return nil, errors.New("bad tag id")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || uint64(len(b)-l) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[l+int(size):]
	}
	return b, nil
}

// Client sends requests to one address, one at a time, reconnecting after
// any error. It is safe for concurrent use (requests are serialised).
type Client struct {
	Addr     string
	ClientID string
	// DialTimeout bounds connecting; default 2s.
	DialTimeout time.Duration
	// ReuseResponseBuffer reads every response into one buffer; the caller
	// must be done with a response (kmsg decodes byte fields as sub-slices of
	// it) before its next Request. The replica fetcher sets it.
	ReuseResponseBuffer bool

	mu   sync.Mutex
	nc   net.Conn
	corr int32
	buf  []byte
	rbuf []byte
}

// Request sends req (with its version already set) and returns the decoded
// response. The context's deadline bounds the whole exchange.
func (c *Client) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	resp := req.ResponseKind()
	if err := c.RequestInto(ctx, req, resp, false); err != nil {
		return nil, err
	}
	return resp, nil
}

// RequestInto is Request decoding into resp, which the caller may reuse
// across calls (kmsg's decoder reuses its top-level slices). With unsafe,
// strings alias the response buffer as byte fields always do: valid until
// the next request when ReuseResponseBuffer is set.
func (c *Client) RequestInto(ctx context.Context, req kmsg.Request, resp kmsg.Response, unsafe bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc == nil {
		d := net.Dialer{Timeout: c.DialTimeout}
		if d.Timeout == 0 {
			d.Timeout = 2 * time.Second
		}
		nc, err := d.DialContext(ctx, "tcp", c.Addr)
		if err != nil {
			return err
		}
		c.nc = nc
	}
	fail := func(err error) error {
		c.nc.Close()
		c.nc = nil
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	c.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.corr++
	c.buf = AppendRequest(c.buf[:0], req, c.corr, c.ClientID)
	if _, err := c.nc.Write(c.buf); err != nil {
		return fail(err)
	}
	var reuse []byte
	if c.ReuseResponseBuffer {
		reuse = c.rbuf
	}
	frame, err := readFrameInto(c.nc, 1<<30, reuse)
	if err != nil {
		return fail(err)
	}
	if c.ReuseResponseBuffer {
		c.rbuf = frame
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != c.corr {
		return fail(fmt.Errorf("correlation id %d, want %d", got, c.corr))
	}
	body := frame[4:]
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 {
		if body, err = SkipTags(body); err != nil {
			return fail(err)
		}
	}
	if u, ok := resp.(interface{ UnsafeReadFrom([]byte) error }); unsafe && ok {
		err = u.UnsafeReadFrom(body)
	} else {
		err = resp.ReadFrom(body)
	}
	if err != nil {
		return fail(err)
	}
	if len(c.buf) > 1<<20 {
		c.buf = nil
	}
	return nil
}

// Close closes the connection.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}
