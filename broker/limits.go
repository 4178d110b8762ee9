package broker

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Limits caps what clients can hold on one broker. A client over a
// connection cap is refused (closed at once, with a log line); one over its
// in-flight byte cap is slowed: its connection is not read until answers
// free the bytes (backpressure), as with the broker-wide MaxInflightBytes.
type Limits struct {
	// MaxConnections caps open client connections (max.connections); 0 means
	// no cap. Default 10000.
	MaxConnections int
	// MaxConnectionsPerIP caps connections from one client address
	// (max.connections.per.ip); 0 means no cap. Default 0: load generators
	// usually run from one host.
	MaxConnectionsPerIP int
	// MaxInflightBytesPerConn caps the request bytes one connection may have
	// read but not yet answered; 0 means no cap. A single request larger than
	// the cap is still read once nothing else of its connection is in flight.
	// Default 32 MiB.
	MaxInflightBytesPerConn int64
}

// DefaultLimits returns the defaults documented on Limits' fields.
func DefaultLimits() Limits {
	return Limits{MaxConnections: 10000, MaxInflightBytesPerConn: 32 << 20}
}

func (l Limits) validate() error {
	if l.MaxConnections < 0 || l.MaxConnectionsPerIP < 0 || l.MaxInflightBytesPerConn < 0 {
		return fmt.Errorf("config: limits must be >= 0 (0 = no cap), got connections %d, per IP %d, in-flight bytes per connection %d",
			l.MaxConnections, l.MaxConnectionsPerIP, l.MaxInflightBytesPerConn)
	}
	return nil
}

// connLimiter counts open connections, in total and per client IP.
type connLimiter struct {
	lim  Limits
	logf func(string, ...any)

	mu         sync.Mutex
	total      int
	perIP      map[string]int
	refused    int64 // since the last refusal log line
	lastLogged time.Time
}

func newConnLimiter(lim Limits, logf func(string, ...any)) *connLimiter {
	return &connLimiter{lim: lim, logf: logf, perIP: map[string]int{}}
}

// admit counts a new connection in, or closes it and returns false when it
// would exceed a cap. The returned key is passed to leave.
func (l *connLimiter) admit(nc net.Conn, m *metrics) (string, bool) {
	ip := remoteIP(nc)
	l.mu.Lock()
	var why string
	switch {
	case l.lim.MaxConnections > 0 && l.total >= l.lim.MaxConnections:
		why = fmt.Sprintf("%d connections open (max.connections=%d)", l.total, l.lim.MaxConnections)
	case l.lim.MaxConnectionsPerIP > 0 && l.perIP[ip] >= l.lim.MaxConnectionsPerIP:
		why = fmt.Sprintf("%d connections open from %s (max.connections.per.ip=%d)", l.perIP[ip], ip, l.lim.MaxConnectionsPerIP)
	}
	if why == "" {
		l.total++
		l.perIP[ip]++
		l.mu.Unlock()
		return ip, true
	}
	// Log the first refusal, then at most one line a second, so a
	// connection flood cannot flood the log too.
	l.refused++
	var line string
	if now := time.Now(); now.Sub(l.lastLogged) >= time.Second {
		line = fmt.Sprintf("refused connection from %s: %s", nc.RemoteAddr(), why)
		if l.refused > 1 {
			line += fmt.Sprintf(" (%d refused since the last such line)", l.refused)
		}
		l.refused, l.lastLogged = 0, now
	}
	l.mu.Unlock()
	// Log before closing: whoever sees the connection refused can then
	// find the line.
	if line != "" {
		l.logf("%s", line)
	}
	m.connRefused()
	nc.Close()
	return "", false
}

func (l *connLimiter) leave(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// open is the number of connections admitted and not yet gone.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return nc.RemoteAddr().String()
}

// acquire takes n in-flight request bytes from the connection's quota and
// the broker-wide one, waiting (backpressure) while either is exhausted.
func (c *conn) acquire(n int64) error {
	if c.quota != nil {
		if err := c.quota.acquire(c.quotaShare(n), c.done); err != nil {
			return err
		}
	}
	if err := c.b.inflight.acquire(n, c.done); err != nil {
		if c.quota != nil {
			c.quota.release(c.quotaShare(n))
		}
		return err
	}
	return nil
}

// release returns what acquire took.
func (c *conn) release(n int64) {
	c.b.inflight.release(n)
	if c.quota != nil {
		c.quota.release(c.quotaShare(n))
	}
}

// quotaShare is the part of an n-byte request charged to the connection's
// quota: a request larger than the whole quota takes all of it, so it waits
// for the connection to drain instead of forever.
func (c *conn) quotaShare(n int64) int64 {
	return min(n, c.b.cfg.Limits.MaxInflightBytesPerConn)
}
