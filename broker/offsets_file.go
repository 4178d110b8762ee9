package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The committed-offsets log: an append-only file of frames
//
//	length uint32 | crc32c(payload) uint32 | payload
//
// where a payload is one offsetRecord. A frame is the unit of atomicity: an
// OffsetCommit request (all its partitions) or a transaction's completion is
// one frame, so a torn write loses the whole request, never half of it.
// Recovery stops at the first bad frame and truncates the file there, as
// partition logs do with a torn tail.

const frameHeader = 8

// maxFramePayload bounds a frame a reader will believe; a corrupt length
// beyond it is a torn tail, not an allocation.
const maxFramePayload = 256 << 20

var crc32c = crc32.MakeTable(crc32.Castagnoli)

type recordKind byte

const (
	kindCommit        recordKind = 1 // group offsets set
	kindDeleteOffsets recordKind = 2 // group offsets removed (OffsetDelete)
	kindDeleteGroup   recordKind = 3 // group and all its offsets removed (DeleteGroups)
	kindTxnStage      recordKind = 4 // offsets held pending for a producer's transaction
	kindTxnEnd        recordKind = 5 // the producer's transaction committed or aborted
)

// offsetEntry is one committed (or staged) partition offset.
type offsetEntry struct {
	topic       string
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    string
	commitMs    int64
	// topicID is the topic's id when committed: offsets of a deleted (or
	// deleted and re-created) topic are ignored, as Kafka drops them.
	topicID [16]byte
	// seq orders writes in the log; a transaction's offsets apply at commit
	// only over offsets written before them, like Kafka's log-order rule.
	seq uint64
}

type offsetRecord struct {
	kind       recordKind
	group      string
	producerID int64 // kindTxnStage, kindTxnEnd
	commit     bool  // kindTxnEnd
	entries    []offsetEntry
}

var errBadRecord = errors.New("malformed offsets record")

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (r *offsetRecord) appendTo(b []byte) []byte {
	b = append(b, byte(r.kind))
	switch r.kind {
	case kindTxnEnd:
		b = binary.BigEndian.AppendUint64(b, uint64(r.producerID))
		if r.commit {
			return append(b, 1)
		}
		return append(b, 0)
	case kindDeleteGroup:
		return appendStr(b, r.group)
	case kindTxnStage:
		b = binary.BigEndian.AppendUint64(b, uint64(r.producerID))
	}
	b = appendStr(b, r.group)
	b = binary.AppendUvarint(b, uint64(len(r.entries)))
	for i := range r.entries {
		e := &r.entries[i]
		b = appendStr(b, e.topic)
		b = binary.BigEndian.AppendUint32(b, uint32(e.partition))
		if r.kind == kindDeleteOffsets {
			continue
		}
		b = binary.BigEndian.AppendUint64(b, uint64(e.offset))
		b = binary.BigEndian.AppendUint32(b, uint32(e.leaderEpoch))
		b = appendStr(b, e.metadata)
		b = binary.BigEndian.AppendUint64(b, uint64(e.commitMs))
		b = append(b, e.topicID[:]...)
		b = binary.BigEndian.AppendUint64(b, e.seq)
	}
	return b
}

// recReader decodes with a sticky error checked once at the end.
type recReader struct {
	b   []byte
	err error
}

func (r *recReader) fail() {
	if r.err == nil {
		r.err = errBadRecord
	}
	r.b = nil
}

func (r *recReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *recReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	return string(r.take(int(n)))
}

func (r *recReader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *recReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *recReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func decodeOffsetRecord(payload []byte) (offsetRecord, error) {
	r := recReader{b: payload}
	rec := offsetRecord{kind: recordKind(r.u8())}
	switch rec.kind {
	case kindTxnEnd:
		rec.producerID = int64(r.u64())
		switch r.u8() {
		case 0:
		case 1:
			rec.commit = true
		default:
			r.fail()
		}
	case kindDeleteGroup:
		rec.group = r.str()
	case kindCommit, kindDeleteOffsets, kindTxnStage:
		if rec.kind == kindTxnStage {
			rec.producerID = int64(r.u64())
		}
		rec.group = r.str()
		n := r.uvarint()
		// Each entry takes at least 5 bytes: do not let a corrupt count allocate.
		if n > uint64(len(r.b))/5 {
			r.fail()
			break
		}
		rec.entries = make([]offsetEntry, 0, n)
		for i := uint64(0); i < n && r.err == nil; i++ {
			var e offsetEntry
			e.topic = r.str()
			e.partition = int32(r.u32())
			if rec.kind != kindDeleteOffsets {
				e.offset = int64(r.u64())
				e.leaderEpoch = int32(r.u32())
				e.metadata = r.str()
				e.commitMs = int64(r.u64())
				copy(e.topicID[:], r.take(16))
				e.seq = r.u64()
			}
			rec.entries = append(rec.entries, e)
		}
	default:
		r.fail()
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return offsetRecord{}, r.err
	}
	return rec, nil
}

// appendFrame frames one record.
func appendFrame(b []byte, rec *offsetRecord) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeader)...)
	b = rec.appendTo(b)
	payload := b[start+frameHeader:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crc32c))
	return b
}

// scanFrames calls fn for every intact frame of data and returns how many
// bytes are valid; data past it is a torn or corrupt tail.
func scanFrames(data []byte, fn func(offsetRecord)) (valid int, err error) {
	for pos := 0; pos < len(data); {
		if len(data)-pos < frameHeader {
			return pos, fmt.Errorf("torn frame header at %d", pos)
		}
		n := binary.BigEndian.Uint32(data[pos:])
		if n > maxFramePayload || int(n) > len(data)-pos-frameHeader {
			return pos, fmt.Errorf("torn frame at %d: length %d", pos, n)
		}
		payload := data[pos+frameHeader : pos+frameHeader+int(n)]
		if crc32.Checksum(payload, crc32c) != binary.BigEndian.Uint32(data[pos+4:]) {
			return pos, fmt.Errorf("frame at %d: crc mismatch", pos)
		}
		rec, err := decodeOffsetRecord(payload)
		if err != nil {
			return pos, fmt.Errorf("frame at %d: %w", pos, err)
		}
		fn(rec)
		pos += frameHeader + int(n)
	}
	return len(data), nil
}
