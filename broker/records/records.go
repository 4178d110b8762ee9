// Package records parses and validates Kafka magic-v2 record batches in place.
//
// Everything here works on the wire bytes directly: no decoding into structs per record,
// no decompression and no allocation on the success paths, because the broker calls it for
// every produced batch.
//
// Batch layout (big endian), offsets in bytes:
//
//	 0 baseOffset int64        21 attributes int16       43 producerId int64
//	 8 length int32            23 lastOffsetDelta int32  51 producerEpoch int16
//	12 partitionLeaderEpoch    27 baseTimestamp int64    53 baseSequence int32
//	16 magic int8              35 maxTimestamp int64     57 recordCount int32
//	17 crc uint32 (CRC-32C of bytes 21..end)             61 records
package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderLen is the size of a v2 batch header, baseOffset through recordCount.
const HeaderLen = 61

// Field offsets inside a batch.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// lengthOverhead is the part of the header counted by the length field.
	lengthOverhead = HeaderLen - 12
)

// Attribute bits.
const (
	codecMask         = 0x07
	timestampTypeBit  = 0x08
	transactionalBit  = 0x10
	controlBit        = 0x20
	maxKnownCodec     = 4
	logAppendTimeType = 1
)

// Errors the broker maps to Kafka error codes; test with errors.Is.
var (
	ErrCorrupt          = errors.New("corrupt record batch")           // CORRUPT_MESSAGE (2)
	ErrUnsupportedMagic = errors.New("unsupported record batch magic") // UNSUPPORTED_FOR_MESSAGE_FORMAT (43)
	ErrInvalidRecord    = errors.New("invalid record")                 // INVALID_RECORD (87)
	ErrTooLarge         = errors.New("record batch too large")         // MESSAGE_TOO_LARGE (10)
)

// castagnoli is read-only after initialisation; crc32 picks the SSE4.2/ARM64 CRC path for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is a decoded v2 batch header.
type Header struct {
	BaseOffset           int64
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// ParseHeader decodes the header of the batch starting at b. It fails with ErrCorrupt when b
// is shorter than HeaderLen or the length field is below the header size, and with
// ErrUnsupportedMagic when the magic byte is not 2 (the returned fields are then meaningless).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		if len(b) > offMagic && b[offMagic] != 2 {
			return Header{}, fmt.Errorf("magic %d: %w", int8(b[offMagic]), ErrUnsupportedMagic)
		}
		return Header{}, fmt.Errorf("batch header needs %d bytes, have %d: %w", HeaderLen, len(b), ErrCorrupt)
	}
	h := Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		Length:               int32(binary.BigEndian.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		RecordCount:          int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("magic %d: %w", h.Magic, ErrUnsupportedMagic)
	}
	if h.Length < lengthOverhead {
		return h, fmt.Errorf("batch length %d below header size: %w", h.Length, ErrCorrupt)
	}
	return h, nil
}

// Codec is the compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
func (h Header) Codec() int8 { return int8(h.Attributes & codecMask) }

// TimestampType is 0 for CreateTime and 1 for LogAppendTime.
func (h Header) TimestampType() int8 {
	if h.Attributes&timestampTypeBit != 0 {
		return logAppendTimeType
	}
	return 0
}

// Transactional reports whether the batch belongs to a transaction.
func (h Header) Transactional() bool { return h.Attributes&transactionalBit != 0 }

// Control reports whether the batch holds control records (transaction markers).
func (h Header) Control() bool { return h.Attributes&controlBit != 0 }

// Size is the whole batch size in bytes, header included.
func (h Header) Size() int { return 12 + int(h.Length) }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset following the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Summary describes what Validate accepted.
type Summary struct {
	Batches, Records        int
	FirstHeader, LastHeader Header
	MaxTimestamp            int64
	Bytes                   int
}

// Validate checks the records field of a produce request: one or more whole magic-v2 batches
// with a valid CRC-32C, consistent counts, no control batches and each at most maxBatchBytes
// (maxBatchBytes <= 0 means no limit). Uncompressed batches also have their records walked.
//
// Compressed batches are deliberately NOT decompressed: only their header and CRC are checked.
// Apache Kafka decompresses to validate; skipping it keeps produce cost independent of the
// codec, and consumers still detect damage through the CRC.
func Validate(buf []byte, maxBatchBytes int) (Summary, error) {
	var s Summary
	if len(buf) == 0 {
		return s, fmt.Errorf("no record batch: %w", ErrInvalidRecord)
	}
	for off := 0; off < len(buf); {
		b := buf[off:]
		h, err := ParseHeader(b)
		if err != nil {
			return s, fmt.Errorf("batch %d at byte %d: %w", s.Batches, off, err)
		}
		size := h.Size()
		if size > len(b) {
			return s, fmt.Errorf("batch %d at byte %d: length %d exceeds the %d bytes left: %w",
				s.Batches, off, h.Length, len(b), ErrCorrupt)
		}
		if maxBatchBytes > 0 && size > maxBatchBytes {
			return s, fmt.Errorf("batch %d is %d bytes, limit %d: %w", s.Batches, size, maxBatchBytes, ErrTooLarge)
		}
		b = b[:size]
		if crc := crc32.Checksum(b[offAttributes:], castagnoli); crc != h.CRC {
			return s, fmt.Errorf("batch %d: crc %08x, computed %08x: %w", s.Batches, h.CRC, crc, ErrCorrupt)
		}
		if err := checkHeader(h); err != nil {
			return s, fmt.Errorf("batch %d: %w", s.Batches, err)
		}
		if h.Codec() == 0 {
			if err := walkRecords(b[HeaderLen:], int(h.RecordCount)); err != nil {
				return s, fmt.Errorf("batch %d: %w", s.Batches, err)
			}
		}
		if s.Batches == 0 {
			s.FirstHeader = h
			s.MaxTimestamp = h.MaxTimestamp
		} else if h.MaxTimestamp > s.MaxTimestamp {
			s.MaxTimestamp = h.MaxTimestamp
		}
		s.LastHeader = h
		s.Batches++
		s.Records += int(h.RecordCount)
		off += size
	}
	s.Bytes = len(buf)
	return s, nil
}

// checkHeader applies the header rules a client batch must satisfy.
func checkHeader(h Header) error {
	switch {
	case h.RecordCount <= 0:
		return fmt.Errorf("record count %d: %w", h.RecordCount, ErrInvalidRecord)
	case int64(h.RecordCount) != int64(h.LastOffsetDelta)+1:
		return fmt.Errorf("record count %d but last offset delta %d: %w", h.RecordCount, h.LastOffsetDelta, ErrInvalidRecord)
	case h.Control():
		return fmt.Errorf("control batch from a client: %w", ErrInvalidRecord)
	case h.Codec() > maxKnownCodec:
		return fmt.Errorf("unknown compression codec %d: %w", h.Codec(), ErrInvalidRecord)
	}
	return nil
}

// walkRecords checks that b holds exactly n records with offset deltas 0..n-1. Each record is
// varint length, then attributes int8, timestampDelta varlong, offsetDelta varint, key and
// value as varint-length bytes (-1 = null) and a varint count of headers, each a varint-length
// key and value. Varints are zigzag, as encoding/binary.Varint reads them.
func walkRecords(b []byte, n int) error {
	p := 0
	for i := 0; i < n; i++ {
		l, w := binary.Varint(b[p:])
		if w <= 0 || l < 0 || l > int64(len(b)-p-w) {
			return fmt.Errorf("record %d: bad length: %w", i, ErrInvalidRecord)
		}
		p += w
		r := b[p : p+int(l)]
		p += int(l)
		if len(r) < 1 {
			return fmt.Errorf("record %d: empty: %w", i, ErrInvalidRecord)
		}
		q := 1 // attributes
		_, w = binary.Varint(r[q:])
		if w <= 0 {
			return fmt.Errorf("record %d: bad timestamp delta: %w", i, ErrInvalidRecord)
		}
		q += w
		d, w := binary.Varint(r[q:])
		if w <= 0 {
			return fmt.Errorf("record %d: bad offset delta: %w", i, ErrInvalidRecord)
		}
		if d != int64(i) {
			return fmt.Errorf("record %d: offset delta %d: %w", i, d, ErrInvalidRecord)
		}
		q += w
		var ok bool
		if q, ok = skipBytes(r, q, true); !ok {
			return fmt.Errorf("record %d: bad key: %w", i, ErrInvalidRecord)
		}
		if q, ok = skipBytes(r, q, true); !ok {
			return fmt.Errorf("record %d: bad value: %w", i, ErrInvalidRecord)
		}
		nh, w := binary.Varint(r[q:])
		if w <= 0 || nh < 0 || nh > int64(len(r)) {
			return fmt.Errorf("record %d: bad header count: %w", i, ErrInvalidRecord)
		}
		q += w
		for j := int64(0); j < nh; j++ {
			if q, ok = skipBytes(r, q, false); !ok {
				return fmt.Errorf("record %d header %d: bad key: %w", i, j, ErrInvalidRecord)
			}
			if q, ok = skipBytes(r, q, true); !ok {
				return fmt.Errorf("record %d header %d: bad value: %w", i, j, ErrInvalidRecord)
			}
		}
		if q != len(r) {
			return fmt.Errorf("record %d: %d bytes left over: %w", i, len(r)-q, ErrInvalidRecord)
		}
	}
	if p != len(b) {
		return fmt.Errorf("%d bytes after the last record: %w", len(b)-p, ErrInvalidRecord)
	}
	return nil
}

// skipBytes skips a varint-length byte field at r[q:], returning the position after it.
func skipBytes(r []byte, q int, nullable bool) (int, bool) {
	l, w := binary.Varint(r[q:])
	if w <= 0 {
		return q, false
	}
	q += w
	if l == -1 && nullable {
		return q, true
	}
	if l < 0 || l > int64(len(r)-q) {
		return q, false
	}
	return q + int(l), true
}

// VerifyCRC reports whether a whole batch's stored CRC matches its content.
func VerifyCRC(batch []byte) bool {
	if len(batch) < HeaderLen {
		return false
	}
	return crc32.Checksum(batch[offAttributes:], castagnoli) == binary.BigEndian.Uint32(batch[offCRC:])
}

// SetBaseOffset rewrites the batch's baseOffset. The field precedes the CRC-covered range.
func SetBaseOffset(batch []byte, off int64) {
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the batch's partitionLeaderEpoch (not CRC-covered either).
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime with maxTimestamp ts and recomputes the CRC,
// as Apache Kafka's DefaultRecordBatch.setMaxTimestamp does. Like Kafka it leaves baseTimestamp
// and the record deltas alone: readers take every record's timestamp from maxTimestamp when the
// timestamp-type bit is set.
func SetLogAppendTime(batch []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(batch[offAttributes:]) | timestampTypeBit
	binary.BigEndian.PutUint16(batch[offAttributes:], attrs)
	binary.BigEndian.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	size := 12 + int(int32(binary.BigEndian.Uint32(batch[offLength:])))
	binary.BigEndian.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:size], castagnoli))
}

// Iterate walks the concatenated batches in buf and calls fn with each whole batch. It stops
// at the first incomplete batch (a torn tail is not an error) or when fn returns false, and
// returns the bytes of the batches fn accepted. A header that cannot be a v2 batch (wrong
// magic, length below the header size) stops it with an error wrapping ErrCorrupt or
// ErrUnsupportedMagic. Iterate does not check CRCs; use VerifyCRC in fn.
func Iterate(buf []byte, fn func(h Header, batch []byte) bool) (consumed int, err error) {
	for len(buf)-consumed >= HeaderLen {
		b := buf[consumed:]
		h, err := ParseHeader(b)
		if err != nil {
			return consumed, err
		}
		size := h.Size()
		if size > len(b) {
			return consumed, nil
		}
		if !fn(h, b[:size]) {
			return consumed, nil
		}
		consumed += size
	}
	return consumed, nil
}
