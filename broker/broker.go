// Package broker is kbench's Kafka-wire-compatible broker: on-disk segment
// logs, fetch served with sendfile, and the request handlers real clients need.
// Every request and response is decoded and encoded with franz-go's kmsg; only
// the Fetch response body is framed by hand so record bytes can go from the
// segment files to the socket with sendfile.
package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbench/kbench/broker/storage"
	"github.com/kbench/kbench/broker/wire"
)

// Broker is one running broker.
type Broker struct {
	cfg      Config
	ln       *net.TCPListener
	topics   topics
	txns     *txnCoordinator
	link     clusterLink
	image    atomic.Pointer[clusterImage]
	fetchers fetchers
	markers  markerClients
	coord    coordState // internal partitions loaded as coordinator (internal_topics.go)
	groups   *groupCoordinator
	share    shareState // share groups (KIP-932): share_*.go
	inflight *byteSemaphore
	sec      *listenerSecurity // TLS and SASL (sasl.go)
	limits   *connLimiter      // connection caps (limits.go)
	metrics  *metrics          // nil unless Config.MetricsListen is set (metrics.go)

	advHost string
	advPort int32

	// dropProduce is the fraction (float64 bits) of produce responses to drop.
	dropProduce atomic.Uint64

	// sendfileBytes counts record bytes sent with sendfile, so tests and
	// metrics can prove the zero-copy path is taken.
	sendfileBytes atomic.Int64

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// Start opens (and recovers) the data directory, binds the listener and
// starts serving. ctx only bounds start-up; use Close to stop.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sec, err := newListenerSecurity(cfg.Security, cfg.Controller != "")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	b := &Broker{
		cfg:      cfg,
		inflight: newByteSemaphore(cfg.MaxInflightBytes),
		sec:      sec,
		limits:   newConnLimiter(cfg.Limits, cfg.Logf),
		conns:    make(map[*conn]struct{}),
		stop:     make(chan struct{}),
	}
	if cfg.MetricsListen != "" {
		b.metrics = newMetrics(b)
	}
	b.topics.cfg = &b.cfg
	b.topics.clustered = b.clustered()
	b.fetchers = fetchers{b: b, m: map[int32]*fetcher{}}
	clientID := fmt.Sprintf("kbench-broker-%d", cfg.NodeID)
	b.link = clusterLink{hb: &wire.Client{Addr: cfg.Controller, ClientID: clientID}, ctrl: &wire.Client{Addr: cfg.Controller, ClientID: clientID},
		configs: map[string]map[string]string{}}
	if err := b.topics.load(); err != nil {
		return nil, err
	}
	gs := defaultGroupSettings()
	gs.consumerSession, gs.consumerHeartbeat = cfg.ConsumerGroupSession, cfg.ConsumerGroupHeartbeat
	b.groups = newGroupCoordinator(gs, b.topicID, b.topicMetas, b.appendGroupRecords, cfg.Logf)
	txns, err := openTxnCoordinator(b)
	if err != nil {
		b.groups.close()
		b.topics.closeAll()
		return nil, fmt.Errorf("open transaction state: %w", err)
	}
	b.txns = txns
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		b.groups.close()
		b.topics.closeAll()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	b.ln = ln.(*net.TCPListener)
	adv := cfg.AdvertisedListener
	if adv == "" {
		adv = b.ln.Addr().String()
	}
	host, port, err := splitHostPort(adv)
	if err != nil {
		ln.Close()
		b.groups.close()
		b.topics.closeAll()
		return nil, err
	}
	b.advHost, b.advPort = host, port
	b.wg.Add(3)
	go b.acceptLoop()
	go b.housekeeping()
	go b.shareTicker()
	if b.clustered() {
		if err := b.register(ctx); err != nil {
			b.Close()
			return nil, err
		}
		b.wg.Add(1)
		go b.heartbeats()
	}
	if b.metrics != nil {
		if err := b.metrics.serve(cfg.MetricsListen); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func splitHostPort(addr string) (string, int32, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("advertised listener %q: %w", addr, err)
	}
	var port int32
	if _, err := fmt.Sscanf(ps, "%d", &port); err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("advertised listener %q: bad port", addr)
	}
	return host, port, nil
}

// Addr is the address the broker is bound to.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// NodeID is the broker's node id.
func (b *Broker) NodeID() int32 { return b.cfg.NodeID }

// SendfileBytes is the number of record bytes served with sendfile so far.
func (b *Broker) SendfileBytes() int64 { return b.sendfileBytes.Load() }

func (b *Broker) acceptLoop() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			b.cfg.Logf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		nc.SetNoDelay(true)
		ip, ok := b.limits.admit(nc, b.metrics)
		if !ok {
			continue
		}
		c := &conn{b: b, nc: nc, out: make(chan *pending, maxPipeline), done: make(chan struct{})}
		b.prepareConn(c)
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			nc.Close()
			b.limits.leave(ip)
			return
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			c.serve()
			b.mu.Lock()
			delete(b.conns, c)
			b.mu.Unlock()
			b.limits.leave(ip)
		}()
	}
}

// housekeeping enforces retention and time-based rolls, and flushes logs
// whose policy is an interval.
func (b *Broker) housekeeping() {
	defer b.wg.Done()
	retention := time.NewTicker(b.cfg.RetentionCheckInterval)
	defer retention.Stop()
	flush := time.NewTicker(100 * time.Millisecond)
	defer flush.Stop()
	txnTick := time.NewTicker(time.Second) // transaction.abort.timed.out.transaction.cleanup.interval.ms
	defer txnTick.Stop()
	isrTick := time.NewTicker(b.cfg.ReplicaLagTimeMax / 4)
	defer isrTick.Stop()
	hwTick := time.NewTicker(b.cfg.HWCheckpointInterval)
	defer hwTick.Stop()
	cleaner := time.NewTicker(b.cfg.LogCleanerInterval)
	defer cleaner.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-retention.C:
			b.EnforceRetention()
		case <-flush.C:
			b.flushDue()
		case now := <-txnTick.C:
			b.syncCoordinators()
			b.txns.expire(now)
		case now := <-isrTick.C:
			b.shrinkISRs(now)
		case <-hwTick.C:
			if err := b.checkpointHW(); err != nil {
				b.cfg.Logf("high watermark checkpoint: %v", err)
			}
		case <-cleaner.C:
			b.CleanLogs()
		}
	}
}

// EnforceRetention applies retention.ms/retention.bytes and segment.ms to every
// partition now (it also runs every log.retention.check.interval).
func (b *Broker) EnforceRetention() {
	now := time.Now()
	for _, t := range b.topics.snapshot() {
		for _, p := range t.partitions {
			if p == nil {
				continue
			}
			if n, err := p.log.EnforceRetention(now); err != nil {
				b.cfg.Logf("retention %s-%d: %v", p.topic, p.index, err)
			} else if n > 0 {
				b.cfg.Logf("retention %s-%d: deleted %d segments, log start offset now %d", p.topic, p.index, n, p.log.StartOffset())
			}
		}
	}
}

// CleanLogs runs the log cleaner over every partition of a compacted topic
// now (it also runs every log.cleaner.backoff.ms): each replica compacts
// its own log, as in Kafka.
func (b *Broker) CleanLogs() {
	now := time.Now().UnixMilli()
	for _, t := range b.topics.snapshot() {
		if !t.settings.compact {
			continue
		}
		for _, p := range t.partitions {
			if p == nil {
				continue
			}
			if st, err := p.log.Compact(now, t.settings.deleteRetentionMs); err != nil {
				b.cfg.Logf("clean %s-%d: %v", p.topic, p.index, err)
			} else if st.Segments > 0 {
				b.cfg.Logf("cleaned %s-%d: %d segments, %d records removed, %d -> %d bytes", p.topic, p.index, st.Segments, st.RecordsRemoved, st.BytesBefore, st.BytesAfter)
			}
		}
	}
}

func (b *Broker) flushDue() {
	// storage flushes FlushEveryBatch itself; FlushInterval logs are flushed
	// here, at most every 100 ms granularity.
	for _, t := range b.topics.snapshot() {
		if t.settings.log.Flush != storage.FlushInterval {
			continue
		}
		for _, p := range t.partitions {
			if p != nil {
				p.maybeFlush(t.settings.log.FlushIntervalMs)
			}
		}
	}
}

// Close stops accepting, closes every connection, waits for them and closes
// the logs. In a cluster it first asks the controller to move its leadership.
func (b *Broker) Close() error { return b.close(true) }

func (b *Broker) close(controlled bool) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	if controlled && b.clustered() {
		b.controlledShutdown()
	}
	b.coord.mu.Lock()
	b.coord.closed = true // no coordinator loads start from here on
	b.coord.mu.Unlock()
	b.mu.Lock()
	close(b.stop)
	b.ln.Close()
	b.fetchers.stopAll()
	b.link.ctrl.Close()
	b.link.hb.Close()
	for c := range b.conns {
		c.close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	var hwErr error
	if controlled {
		hwErr = b.checkpointHW() // as Kafka does at a clean shutdown
	}
	b.metrics.close()
	b.groups.close()
	return errors.Join(hwErr, b.topics.closeAll())
}
