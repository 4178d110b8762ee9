package broker

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/kbench/kbench/broker/storage"
)

// fetchWire is a Fetch response body framed by hand so that record bytes can
// be sent from segment files with sendfile: buf holds every non-record byte,
// and marks say where, between them, each file range goes.
type fetchWire struct {
	version  int16
	flexible bool
	buf      []byte
	marks    []fetchMark
	slices   []*storage.Slice
	fileLen  int64
	hasErr   bool
	errCodes []int16     // non-zero partition codes, for the errors metric
	iov      [2][]byte   // the current writev's vectors (writev)
	bufs     net.Buffers // over iov
}

type fetchMark struct {
	at    int // position in buf before which the chunk is sent
	chunk storage.Chunk
}

// fetchWires are reused: a response goes back once written (pending.recycle)
// or discarded unsent (a long poll rebuilding it).
var fetchWirePool = sync.Pool{New: func() any { return &fetchWire{buf: make([]byte, 0, 256)} }}

func newFetchWire(version int16) *fetchWire {
	f := fetchWirePool.Get().(*fetchWire)
	f.version, f.flexible = version, version >= 12
	return f
}

// free releases f's files and returns it to the pool; f must not be used
// after. Buffers grown unusually large are left to the GC.
func (f *fetchWire) free() {
	f.release()
	if cap(f.buf) > 64<<10 || cap(f.marks) > 1024 {
		return
	}
	clear(f.marks)
	*f = fetchWire{buf: f.buf[:0], marks: f.marks[:0], slices: f.slices[:0], errCodes: f.errCodes[:0]}
	fetchWirePool.Put(f)
}

func (f *fetchWire) i16(v int16) { f.buf = binary.BigEndian.AppendUint16(f.buf, uint16(v)) }
func (f *fetchWire) i32(v int32) { f.buf = binary.BigEndian.AppendUint32(f.buf, uint32(v)) }
func (f *fetchWire) i64(v int64) { f.buf = binary.BigEndian.AppendUint64(f.buf, uint64(v)) }

// arrayLen writes an array length; -1 is a null array.
func (f *fetchWire) arrayLen(n int) {
	if f.flexible {
		f.buf = binary.AppendUvarint(f.buf, uint64(n)+1)
	} else {
		f.i32(int32(n))
	}
}

func (f *fetchWire) str(s string) {
	if f.flexible {
		f.buf = binary.AppendUvarint(f.buf, uint64(len(s))+1)
	} else {
		f.i16(int16(len(s)))
	}
	f.buf = append(f.buf, s...)
}

// tags writes an empty tagged-field section (flexible versions only).
func (f *fetchWire) tags() {
	if f.flexible {
		f.buf = append(f.buf, 0)
	}
}

func (f *fetchWire) header(errCode int16, sessionID int32) {
	if f.version >= 1 {
		f.i32(0) // throttle
	}
	if f.version >= 7 {
		f.i16(errCode)
		f.i32(sessionID)
	}
	if errCode != 0 {
		f.errCodes = append(f.errCodes, errCode)
	}
}

func (f *fetchWire) partitionHeader(partition int32, errCode int16, hw, lso, logStart int64, aborted []abortedTxn) {
	if errCode != 0 {
		f.errCodes = append(f.errCodes, errCode)
	}
	f.i32(partition)
	f.i16(errCode)
	f.i64(hw)
	if f.version >= 4 {
		f.i64(lso)
	}
	if f.version >= 5 {
		f.i64(logStart)
	}
	if f.version >= 4 {
		if aborted == nil {
			f.arrayLen(-1) // null
		} else {
			f.arrayLen(len(aborted))
			for _, a := range aborted {
				f.i64(a.producerID)
				f.i64(a.first)
				f.tags()
			}
		}
	}
	if f.version >= 11 {
		f.i32(-1) // preferred read replica
	}
}

func (f *fetchWire) partitionError(partition int32, code int16) {
	f.partitionHeader(partition, code, -1, -1, -1, nil)
	f.records(nil)
}

// records writes the records field (length prefix, then the file ranges as
// marks) and the partition's tag section.
func (f *fetchWire) records(s *storage.Slice) {
	if s == nil {
		if f.flexible {
			f.buf = append(f.buf, 1) // empty, not null: clients treat both alike
		} else {
			f.i32(0)
		}
		f.tags()
		return
	}
	if f.flexible {
		f.buf = binary.AppendUvarint(f.buf, uint64(s.Bytes)+1)
	} else {
		f.i32(int32(s.Bytes))
	}
	for _, c := range s.Chunks {
		f.marks = append(f.marks, fetchMark{at: len(f.buf), chunk: c})
		f.fileLen += c.Len
	}
	f.slices = append(f.slices, s)
	f.tags()
}

func (f *fetchWire) release() {
	for _, s := range f.slices {
		s.Release()
	}
	clear(f.slices)
	f.slices = f.slices[:0]
}

// writeTo sends hdr (size placeholder + response header) and the body: bytes
// with writev, file ranges with sendfile at explicit offsets.
func (f *fetchWire) writeTo(c *conn, hdr []byte) error {
	size := len(hdr) - 4 + len(f.buf) + int(f.fileLen)
	binary.BigEndian.PutUint32(hdr, uint32(size))
	c.b.metrics.sent(size + 4)
	tcp, ok := c.nc.(*net.TCPConn)
	if !ok {
		// TLS encrypts in user space: sendfile cannot be used (tls.go).
		return f.copyTo(c, hdr)
	}
	prev, head := 0, hdr // the header goes out with the first bytes
	for _, m := range f.marks {
		if err := f.writev(tcp, head, f.buf[prev:m.at]); err != nil {
			return err
		}
		head = nil
		if _, err := storage.Sendfile(tcp, m.chunk, &c.b.sendfileBytes); err != nil {
			return err
		}
		prev = m.at
	}
	return f.writev(tcp, head, f.buf[prev:])
}

// writev writes head (nil after the first call) and body with one writev.
// The vector lives in f: net.Buffers.WriteTo takes its receiver's address,
// which would move a local vector to the heap on every write.
func (f *fetchWire) writev(tcp *net.TCPConn, head, body []byte) error {
	f.iov = [2][]byte{head, body}
	f.bufs = f.iov[:]
	_, err := f.bufs.WriteTo(tcp)
	f.iov, f.bufs = [2][]byte{}, nil
	return err
}
