package nullbroker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Offsets into a v2 record batch header (see KAFKA-NOTES: baseOffset through
// recordCount is 61 bytes; the CRC covers attributes to the end).
const (
	batchHeaderLen = 61
	lengthAt       = 8  // int32: bytes after this field
	magicAt        = 16 // int8
	crcAt          = 17 // uint32, CRC-32C of everything after it
	countAt        = 57 // int32: records in the batch
)

var errBatch = errors.New("malformed record batch")

// countRecords walks the batches of a produce partition's records and sums
// their record counts, checking only that the headers are sane and magic 2.
func countRecords(b []byte) (int64, error) {
	var n int64
	for len(b) > 0 {
		if len(b) < batchHeaderLen {
			return 0, errBatch
		}
		size := int64(int32(binary.BigEndian.Uint32(b[lengthAt:]))) + lengthAt + 4
		if size < batchHeaderLen || size > int64(len(b)) || b[magicAt] != 2 {
			return 0, errBatch
		}
		count := int32(binary.BigEndian.Uint32(b[countAt:]))
		if count < 0 {
			return 0, errBatch
		}
		n += int64(count)
		b = b[size:]
	}
	return n, nil
}

// templates holds one prebuilt batch for every record count from 1 to max,
// all with base offset 0: serving a batch is copying one and writing its
// base offset (outside the CRC).
type templates struct {
	byCount   [][]byte // index: record count; [0] unused
	timestamp int64    // every record's CreateTime, ms
}

func (t *templates) max() int64 { return int64(len(t.byCount) - 1) }

func buildTemplates(c cfg) (*templates, error) {
	ts := c.timestampMs
	if ts == 0 {
		ts = time.Now().UnixMilli()
	}
	rec := kmsg.Record{Key: c.key, Value: c.value, Headers: c.headers}
	if one := len(appendRecord(nil, &rec, 0)); one > 64<<20 {
		return nil, fmt.Errorf("nullbroker: a %d-byte record is too large", one)
	}
	t := &templates{byCount: [][]byte{nil}, timestamp: ts}
	table := crc32.MakeTable(crc32.Castagnoli)
	var records []byte
	for n := 1; ; n++ {
		at := len(records)
		records = appendRecord(records, &rec, int32(n-1))
		if n > 1 && batchHeaderLen+len(records) > c.batchBytes {
			records = records[:at]
			break
		}
		batch := kmsg.RecordBatch{
			FirstOffset:          0,
			PartitionLeaderEpoch: 0,
			Magic:                2,
			LastOffsetDelta:      int32(n - 1),
			FirstTimestamp:       ts,
			MaxTimestamp:         ts,
			ProducerID:           -1,
			ProducerEpoch:        -1,
			FirstSequence:        -1,
			NumRecords:           int32(n),
			Records:              records,
		}
		b := batch.AppendTo(make([]byte, 0, batchHeaderLen+len(records)))
		binary.BigEndian.PutUint32(b[lengthAt:], uint32(len(b)-lengthAt-4))
		binary.BigEndian.PutUint32(b[crcAt:], crc32.Checksum(b[crcAt+4:], table))
		t.byCount = append(t.byCount, b)
	}
	return t, nil
}

// appendRecord encodes r at offsetDelta; Length is everything after the
// length varint, so the record is encoded once to measure it.
func appendRecord(dst []byte, r *kmsg.Record, offsetDelta int32) []byte {
	r.OffsetDelta = offsetDelta
	r.Length = 0
	body := len(r.AppendTo(nil)) - 1 // a zero length varint is one byte
	r.Length = int32(body)
	return r.AppendTo(dst)
}

// servedBatch is one batch of a fetch response: a template sent with its
// base offset replaced.
type servedBatch struct {
	offset int64
	tmpl   []byte
}

// serve appends the batches holding the records [from, end), at most limit
// bytes of them; with first set at least one batch (Kafka returns the first
// batch of a fetch even when it exceeds the limits, so consumers make
// progress). It returns the bytes added.
func (t *templates) serve(dst []servedBatch, from, end int64, limit int, first bool) ([]servedBatch, int) {
	added := 0
	for from < end {
		b := t.byCount[min(end-from, t.max())]
		if (added > 0 || !first) && added+len(b) > limit {
			break
		}
		dst = append(dst, servedBatch{offset: from, tmpl: b})
		added += len(b)
		from += int64(binary.BigEndian.Uint32(b[countAt:]))
	}
	return dst, added
}

// appendBatches appends the bytes of served batches, as a client receives
// them.
func appendBatches(dst []byte, bs []servedBatch) []byte {
	for _, b := range bs {
		at := len(dst)
		dst = append(dst, b.tmpl...)
		binary.BigEndian.PutUint64(dst[at:], uint64(b.offset))
	}
	return dst
}
