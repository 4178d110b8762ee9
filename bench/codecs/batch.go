package codecs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/bench"
)

// batchHeaderBytes is a v2 record batch with no records: baseOffset through
// recordCount. The producer's batch size limit counts it.
const batchHeaderBytes = 61

// crcOffset is where the CRC sits; it covers everything after it.
const crcOffset = 17

// record is one produced record before it is placed in a batch.
type record struct {
	key, value []byte
	ts         int64 // ms
}

// genRecords draws records from rs until their encoded size reaches total.
func genRecords(rs *bench.Records, total int) []record {
	var recs []record
	ts := int64(1_730_000_000_000) // 2024-10-27, fixed so json events repeat
	for size := 0; size < total; {
		ts += int64(len(recs) % 2) // about two records per millisecond
		k, v := rs.Next(time.UnixMilli(ts))
		recs = append(recs, record{key: k, value: v, ts: ts})
		size += len(k) + len(v) + 8 // close enough to the varint framing to bound the loop
	}
	return recs
}

// batch is one producer batch: its records, encoded uncompressed exactly as
// franz-go encodes them, and the header fields that describe them.
type batch struct {
	recs    []record // the batch's records, for verification
	section []byte   // the records section: what the codec compresses
	first   int64    // first timestamp
	maxTS   int64
}

// wireSize is the uncompressed batch on the wire.
func (b *batch) wireSize() int { return batchHeaderBytes + len(b.section) }

// appendRecord encodes r with kmsg, computing Length as a producer does:
// the size of everything after the length varint.
func appendRecord(dst, scratch []byte, r record, offsetDelta int32, firstTS int64) ([]byte, []byte) {
	kr := kmsg.Record{
		TimestampDelta64: r.ts - firstTS,
		OffsetDelta:      offsetDelta,
		Key:              r.key,
		Value:            r.value,
	}
	scratch = kr.AppendTo(scratch[:0]) // Length 0 encodes as one byte
	kr.Length = int32(len(scratch) - 1)
	return kr.AppendTo(dst), scratch
}

// buildBatches cuts recs into batches the way a producer with this batch
// size limit does: a record joins the batch if the batch stays within the
// limit, and a batch always takes at least one record. Only batches that
// were closed by the limit are kept, so a short final batch does not skew
// the ratio; if none closed, the one partial batch is returned.
func buildBatches(recs []record, limit int) []batch {
	var (
		out     []batch
		cur     batch
		scratch []byte
		enc     []byte
	)
	for i := 0; i < len(recs); i++ {
		r := recs[i]
		if len(cur.recs) == 0 {
			cur.first, cur.maxTS = r.ts, r.ts
		}
		enc, scratch = appendRecord(enc[:0], scratch, r, int32(len(cur.recs)), cur.first)
		if len(cur.recs) > 0 && batchHeaderBytes+len(cur.section)+len(enc) > limit {
			out = append(out, cur)
			cur = batch{}
			i-- // the record starts the next batch, with new deltas
			continue
		}
		cur.recs = append(cur.recs, r)
		cur.section = append(cur.section, enc...)
		cur.maxTS = max(cur.maxTS, r.ts)
	}
	if len(out) == 0 && len(cur.recs) > 0 {
		out = append(out, cur)
	}
	return out
}

// wire appends the full v2 record batch carrying records (the section,
// compressed with codec or not) and its CRC-32C, as a producer sends it.
func (b *batch) wire(dst []byte, codec kgo.CompressionCodecType, records []byte) []byte {
	start := len(dst)
	rb := kmsg.RecordBatch{
		Length:               int32(batchHeaderBytes - 12 + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(codec),
		LastOffsetDelta:      int32(len(b.recs) - 1),
		FirstTimestamp:       b.first,
		MaxTimestamp:         b.maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		NumRecords:           int32(len(b.recs)),
		Records:              records,
	}
	dst = rb.AppendTo(dst)
	crc := crc32.Checksum(dst[start+crcOffset+4:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(dst[start+crcOffset:], crc)
	return dst
}

var errVerify = errors.New("round trip mismatch")

// verifyWire reads a batch back as a consumer would: header, CRC, codec,
// decompression, then every record, and checks it against b.
func (b *batch) verifyWire(wire []byte, dec kgo.Decompressor) error {
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(wire); err != nil {
		return fmt.Errorf("%w: decoding batch: %w", errVerify, err)
	}
	if rb.Magic != 2 || int(rb.Length) != len(wire)-12 {
		return fmt.Errorf("%w: magic %d length %d for %d bytes", errVerify, rb.Magic, rb.Length, len(wire))
	}
	if got, want := uint32(rb.CRC), crc32.Checksum(wire[crcOffset+4:], crc32.MakeTable(crc32.Castagnoli)); got != want {
		return fmt.Errorf("%w: crc got %08x, want %08x", errVerify, got, want)
	}
	if int(rb.NumRecords) != len(b.recs) {
		return fmt.Errorf("%w: got %d records, want %d", errVerify, rb.NumRecords, len(b.recs))
	}
	section := rb.Records
	if codec := kgo.CompressionCodecType(rb.Attributes & 0x07); codec != kgo.CodecNone {
		var err error
		if section, err = dec.Decompress(section, codec); err != nil {
			return fmt.Errorf("%w: decompressing: %w", errVerify, err)
		}
	}
	if !bytes.Equal(section, b.section) {
		return fmt.Errorf("%w: records section differs after decompression (%d bytes, want %d)", errVerify, len(section), len(b.section))
	}
	for i, want := range b.recs {
		l, n := binary.Varint(section)
		if n <= 0 || l < 0 || int(l) > len(section)-n {
			return fmt.Errorf("%w: record %d: bad length", errVerify, i)
		}
		var r kmsg.Record
		if err := r.ReadFrom(section[:n+int(l)]); err != nil {
			return fmt.Errorf("%w: record %d: %w", errVerify, i, err)
		}
		if int(r.OffsetDelta) != i || r.TimestampDelta64 != want.ts-rb.FirstTimestamp ||
			!bytes.Equal(r.Key, want.key) || (r.Key == nil) != (want.key == nil) ||
			!bytes.Equal(r.Value, want.value) || (r.Value == nil) != (want.value == nil) {
			return fmt.Errorf("%w: record %d differs", errVerify, i)
		}
		section = section[n+int(l):]
	}
	if len(section) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", errVerify, len(section))
	}
	return nil
}
