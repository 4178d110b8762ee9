package storage

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbench/kbench/broker/records"
)

// tcpPair returns a connected loopback client and server.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestSendfile(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 8<<20) // larger than socket buffers, so the EAGAIN path runs
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Two concurrent sends of different ranges of the same *os.File: with the shared file
	// position they would interfere; with explicit offsets each gets its own bytes.
	ranges := []Chunk{{File: f, Pos: 1000, Len: 5 << 20}, {File: f, Pos: 3 << 20, Len: 4<<20 + 123}}
	var counter atomic.Int64
	var wg sync.WaitGroup
	for i, c := range ranges {
		client, server := tcpPair(t)
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(server)
			got <- b
		}()
		wg.Go(func() {
			n, err := Sendfile(client, c, &counter)
			if err != nil || n != c.Len {
				t.Errorf("range %d: Sendfile sent %d of %d: %v", i, n, c.Len, err)
			}
			client.CloseWrite()
			b := <-got
			if !bytes.Equal(b, data[c.Pos:c.Pos+c.Len]) {
				t.Errorf("range %d: receiver got %d bytes that differ from the file range", i, len(b))
			}
		})
	}
	wg.Wait()
	if want := ranges[0].Len + ranges[1].Len; counter.Load() != want {
		t.Fatalf("sendfile counter %d, want %d: bytes went another way", counter.Load(), want)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
		t.Fatalf("file position moved to %d: the shared position was used", pos)
	}

	// A chunk past the end of the file reports the shortfall.
	client, server := tcpPair(t)
	go io.Copy(io.Discard, server)
	n, err := Sendfile(client, Chunk{File: f, Pos: int64(len(data)) - 10, Len: 20}, nil)
	if err == nil || n != 10 {
		t.Fatalf("short file: got %d %v, want 10 and an error", n, err)
	}
	// A write deadline is honoured when the peer never reads.
	client2, _ := tcpPair(t)
	client2.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := Sendfile(client2, Chunk{File: f, Pos: 0, Len: int64(len(data))}, nil); err == nil {
		t.Fatal("send to a peer that never reads: got nil error, want a deadline error")
	}
}

// TestReadSendfile is the fetch path end to end: Read hands out file ranges, Sendfile moves
// them, the receiver sees exactly the stored batches.
func TestReadSendfile(t *testing.T) {
	cfg := smallConfig(20000, 0)
	l := openLog(t, t.TempDir(), cfg)
	var want []byte
	for i := range 100 {
		a := mustAppend(t, l, mkBatch(5, 100, int64(i)), 0)
		want = append(want, a.data...)
	}
	client, server := tcpPair(t)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	var counter atomic.Int64
	for off := int64(0); off < l.EndOffset(); {
		s, err := l.Read(off, 64<<10, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Chunks {
			if _, err := Sendfile(client, c, &counter); err != nil {
				t.Fatal(err)
			}
		}
		// Next offset: after the last batch returned.
		last := s.Chunks[len(s.Chunks)-1]
		var buf [records.HeaderLen]byte
		for p := last.Pos; p < last.Pos+last.Len; {
			last.File.ReadAt(buf[:], p)
			h, _ := records.ParseHeader(buf[:])
			off = h.NextOffset()
			p += int64(h.Size())
		}
		s.Release()
	}
	client.CloseWrite()
	b := <-got
	if !bytes.Equal(b, want) || counter.Load() != int64(len(want)) {
		t.Fatalf("receiver got %d bytes (sendfile counted %d), want the %d stored bytes", len(b), counter.Load(), len(want))
	}
}

// TestConcurrentReadAppend runs readers against a busy appender with rolls and retention;
// with -race it also checks the locking. Bounded by a fixed amount of work.
func TestConcurrentReadAppend(t *testing.T) {
	cfg := smallConfig(16<<10, 0)
	cfg.RetentionBytes = 64 << 10
	cfg.RetentionMs = -1
	l := openLog(t, t.TempDir(), cfg)
	const appends = 1500
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				start, end := l.StartOffset(), l.EndOffset()
				if end == start {
					continue
				}
				off := start + int64(i*7+r)%(end-start)
				s, err := l.Read(off, 8<<10, end)
				if err != nil {
					// Retention may move the start between the two loads.
					if off < l.StartOffset() {
						continue
					}
					t.Errorf("Read(%d): %v", off, err)
					return
				}
				next := int64(-1)
				for _, c := range s.Chunks {
					b := make([]byte, c.Len)
					if _, err := c.File.ReadAt(b, c.Pos); err != nil {
						t.Errorf("ReadAt: %v", err)
						return
					}
					n, err := records.Iterate(b, func(h records.Header, batch []byte) bool {
						if !records.VerifyCRC(batch) || (next >= 0 && h.BaseOffset != next) {
							t.Errorf("bad batch at %d (expected %d)", h.BaseOffset, next)
							return false
						}
						next = h.NextOffset()
						return true
					})
					if err != nil || n != len(b) {
						t.Errorf("chunk is not whole batches: %d of %d, %v", n, len(b), err)
						return
					}
				}
				s.Release()
			}
		})
	}
	for i := range appends {
		mustAppend(t, l, mkBatch(1+i%5, 100, int64(i)), 0)
		if i%100 == 0 {
			if _, err := l.EnforceRetention(time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	if _, err := l.EnforceRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	if l.Size() > 64<<10+2*cfg.SegmentBytes {
		t.Fatalf("size %d: retention did not keep up", l.Size())
	}
}

// BenchmarkAppend measures the produce path: offsets assigned in place, one pwrite per call.
func BenchmarkAppend(b *testing.B) {
	for _, msgSz := range []int{100, 1024, 10240} {
		for _, batchSz := range []int{16 << 10, 256 << 10} {
			n := max(1, batchSz/(msgSz+10))
			batch := mkBatch(n, msgSz, 0)
			b.Run(fmt.Sprintf("MsgSz=%d/BatchSz=%dKiB", msgSz, batchSz>>10), func(b *testing.B) {
				cfg := DefaultConfig()
				cfg.SegmentBytes = 128 << 20
				cfg.RetentionBytes = 256 << 20
				l := openLog(b, b.TempDir(), cfg)
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, _, err := l.Append(batch, 0); err != nil {
						b.Fatal(err)
					}
					// Keep the disk footprint bounded on long runs.
					if i++; i%1024 == 0 {
						if _, err := l.EnforceRetention(time.Now()); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(i*n)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkRead measures the fetch path: Read (index lookup, header preads) plus Sendfile to
// a loopback TCP sink, against the copying alternative (ReadBytes + Write).
func BenchmarkRead(b *testing.B) {
	for _, msgSz := range []int{100, 1024} {
		cfg := DefaultConfig()
		cfg.SegmentBytes = 32 << 20
		l := openLog(b, b.TempDir(), cfg)
		batch := mkBatch(16384/(msgSz+10), msgSz, 0)
		for l.Size() < 128<<20 {
			if _, _, err := l.Append(batch, 0); err != nil {
				b.Fatal(err)
			}
		}
		h, _ := records.ParseHeader(batch)
		perBatch := int64(h.LastOffsetDelta) + 1
		const fetchBatches = 64 // a 1 MiB-ish fetch
		maxBytes := int64(fetchBatches * len(batch))
		for _, path := range []string{"sendfile", "copy"} {
			b.Run(fmt.Sprintf("MsgSz=%d/Fetch=%dKiB/Path=%s", msgSz, maxBytes>>10, path), func(b *testing.B) {
				client, server := tcpPair(b)
				go io.Copy(io.Discard, server)
				var sent atomic.Int64
				b.SetBytes(maxBytes)
				b.ReportAllocs()
				off, iters := int64(0), int64(0)
				for b.Loop() {
					iters++
					if off+fetchBatches*perBatch > l.EndOffset() {
						off = 0
					}
					if path == "sendfile" {
						s, err := l.Read(off, maxBytes, l.EndOffset())
						if err != nil {
							b.Fatal(err)
						}
						for _, c := range s.Chunks {
							if _, err := Sendfile(client, c, &sent); err != nil {
								b.Fatal(err)
							}
						}
						if s.Bytes != maxBytes {
							b.Fatalf("read %d bytes, want %d", s.Bytes, maxBytes)
						}
						s.Release()
					} else {
						data, err := l.ReadBytes(off, maxBytes, l.EndOffset())
						if err != nil {
							b.Fatal(err)
						}
						if _, err := client.Write(data); err != nil {
							b.Fatal(err)
						}
					}
					off += fetchBatches * perBatch
				}
				if path == "sendfile" && sent.Load() != iters*maxBytes {
					b.Fatalf("sendfile counted %d bytes, want %d", sent.Load(), iters*maxBytes)
				}
			})
		}
	}
}
