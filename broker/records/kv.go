package records

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Keyed records: what the broker itself writes (coordinator state in its
// internal topics) and what the log cleaner reads and rewrites. Only
// uncompressed batches are walked record by record.

// KV is one record to write; a nil Value is a tombstone (null value).
type KV struct {
	Key, Value []byte
}

// ErrCompressed: the batch's records cannot be walked without decompressing.
var ErrCompressed = errors.New("compressed record batch")

// AppendBatch appends an uncompressed, non-transactional batch of kvs with
// timestamp ts to dst (baseOffset 0: the log assigns it).
func AppendBatch(dst []byte, ts int64, kvs []KV) []byte {
	start := len(dst)
	var hdr [HeaderLen]byte
	dst = append(dst, hdr[:]...)
	for i, kv := range kvs {
		n := 1 + varintLen(0) + varintLen(int64(i)) + varintLen(int64(len(kv.Key))) + len(kv.Key) + varintLen(0)
		if kv.Value == nil {
			n += varintLen(-1)
		} else {
			n += varintLen(int64(len(kv.Value))) + len(kv.Value)
		}
		dst = binary.AppendVarint(dst, int64(n))
		dst = append(dst, 0)                     // attributes
		dst = binary.AppendVarint(dst, 0)        // timestamp delta
		dst = binary.AppendVarint(dst, int64(i)) // offset delta
		dst = binary.AppendVarint(dst, int64(len(kv.Key)))
		dst = append(dst, kv.Key...)
		if kv.Value == nil {
			dst = binary.AppendVarint(dst, -1)
		} else {
			dst = binary.AppendVarint(dst, int64(len(kv.Value)))
			dst = append(dst, kv.Value...)
		}
		dst = binary.AppendVarint(dst, 0) // headers
	}
	b := dst[start:]
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	b[offMagic] = 2
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(max(len(kvs)-1, 0)))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offProducerID:], ^uint64(0))    // -1
	binary.BigEndian.PutUint16(b[offProducerEpoch:], ^uint16(0)) // -1
	binary.BigEndian.PutUint32(b[offBaseSequence:], ^uint32(0))  // -1
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(kvs)))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst
}

func varintLen(v int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], v)
}

// Record is one record of an uncompressed batch as stored: Raw is its
// whole encoding (length prefix included), Key and Value alias it, and
// Value is nil for a tombstone.
type Record struct {
	OffsetDelta int32
	Key, Value  []byte
	Raw         []byte
}

// EachRecord walks the records of one uncompressed batch (whose CRC the
// caller checked) and stops when fn returns false. Compressed batches fail
// with ErrCompressed, malformed ones with ErrCorrupt.
func EachRecord(batch []byte, fn func(Record) bool) error {
	h, err := ParseHeader(batch)
	if err != nil {
		return err
	}
	if h.Codec() != 0 {
		return ErrCompressed
	}
	if h.Size() > len(batch) {
		return ErrCorrupt
	}
	r := batch[HeaderLen:h.Size()]
	for i := int32(0); i < h.RecordCount; i++ {
		n, k := binary.Varint(r)
		if k <= 0 || n < 0 || int64(len(r)-k) < n {
			return ErrCorrupt
		}
		raw := r[:k+int(n)]
		body := r[k : k+int(n)]
		r = r[k+int(n):]
		var rec Record
		rec.Raw = raw
		if len(body) < 1 {
			return ErrCorrupt
		}
		body = body[1:]                         // attributes
		if _, k = binary.Varint(body); k <= 0 { // timestamp delta
			return ErrCorrupt
		}
		body = body[k:]
		od, k := binary.Varint(body)
		if k <= 0 {
			return ErrCorrupt
		}
		rec.OffsetDelta = int32(od)
		body = body[k:]
		var ok bool
		if rec.Key, body, ok = nullableBytes(body); !ok {
			return ErrCorrupt
		}
		if rec.Value, _, ok = nullableBytes(body); !ok {
			return ErrCorrupt
		}
		if !fn(rec) {
			return nil
		}
	}
	return nil
}

func nullableBytes(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Varint(b)
	if k <= 0 || n < -1 || int64(len(b)-k) < n {
		return nil, nil, false
	}
	if n < 0 {
		return nil, b[k:], true
	}
	return b[k : k+int(n) : k+int(n)], b[k+int(n):], true
}

// RebuildBatch appends to dst a copy of batch holding only the records in
// keep (Raw encodings taken from it, in order). Offsets, timestamps and the
// producer fields stay as they were, including lastOffsetDelta, so the
// batch still spans the same offsets (Kafka's cleaner does the same).
func RebuildBatch(dst, batch []byte, keep []Record) []byte {
	start := len(dst)
	dst = append(dst, batch[:HeaderLen]...)
	for _, r := range keep {
		dst = append(dst, r.Raw...)
	}
	b := dst[start:]
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(keep)))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst
}
