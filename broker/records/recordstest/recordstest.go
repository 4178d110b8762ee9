// Package recordstest builds valid magic-v2 record batches for tests, the way a producer does:
// records encoded with franz-go's kmsg, optionally compressed with the codecs franz-go uses,
// and the CRC-32C computed over attributes..end. It does not import package records, so tests
// can check records against batches built independently of it.
package recordstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Codecs as stored in the low three attribute bits.
const (
	CodecNone   int8 = 0
	CodecGzip   int8 = 1
	CodecSnappy int8 = 2
	CodecLZ4    int8 = 3
	CodecZstd   int8 = 4
)

// BatchOpts describes one batch. The zero value plus some Values is a plain uncompressed,
// non-idempotent batch with timestamps starting at 0.
type BatchOpts struct {
	Values [][]byte // one record per value; must not be empty
	Keys   [][]byte // optional; nil or one per value (a nil element is a null key)
	// Headers, if set, are added to every record.
	Headers []kmsg.Header
	Codec   int8

	// ProducerID is written as is; 0 means -1 (no idempotence) unless Idempotent is set.
	ProducerID    int64
	Idempotent    bool
	ProducerEpoch int16
	BaseSequence  int32
	Transactional bool
	Control       bool // only to build batches a broker must reject from clients

	BaseOffset           int64
	PartitionLeaderEpoch int32 // 0 means -1, as producers send
	// Timestamp is the first record's timestamp; record i gets Timestamp + i*TimestampStep.
	Timestamp     int64
	TimestampStep int64
}

// Batch encodes opts as one batch. It panics on impossible options (no values, keys of the
// wrong length, unknown codec) since those are test bugs.
func Batch(opts BatchOpts) []byte {
	n := len(opts.Values)
	if n == 0 {
		panic("recordstest: a batch needs at least one record")
	}
	if opts.Keys != nil && len(opts.Keys) != n {
		panic(fmt.Sprintf("recordstest: %d keys for %d values", len(opts.Keys), n))
	}
	var raw []byte
	for i := range opts.Values {
		r := kmsg.Record{
			TimestampDelta64: int64(i) * opts.TimestampStep,
			OffsetDelta:      int32(i),
			Value:            opts.Values[i],
			Headers:          opts.Headers,
		}
		if opts.Keys != nil {
			r.Key = opts.Keys[i]
		}
		// Length covers everything after itself: encode once with a one-byte zero length
		// to measure, then for real.
		body := r.AppendTo(nil)[1:]
		r.Length = int32(len(body))
		raw = r.AppendTo(raw)
	}
	recs, err := compress(opts.Codec, raw)
	if err != nil {
		panic(fmt.Sprintf("recordstest: compress: %v", err))
	}

	attrs := int16(opts.Codec)
	if opts.Transactional {
		attrs |= 0x10
	}
	if opts.Control {
		attrs |= 0x20
	}
	pid := opts.ProducerID
	if pid == 0 && !opts.Idempotent {
		pid = -1
	}
	epoch := opts.PartitionLeaderEpoch
	if epoch == 0 {
		epoch = -1
	}
	last := opts.Timestamp + int64(n-1)*opts.TimestampStep
	maxTs := max(opts.Timestamp, last)
	b := kmsg.RecordBatch{
		FirstOffset:          opts.BaseOffset,
		Length:               int32(49 + len(recs)),
		PartitionLeaderEpoch: epoch,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       opts.Timestamp,
		MaxTimestamp:         maxTs,
		ProducerID:           pid,
		ProducerEpoch:        opts.ProducerEpoch,
		FirstSequence:        opts.BaseSequence,
		NumRecords:           int32(n),
		Records:              recs,
	}
	out := b.AppendTo(nil)
	FixCRC(out)
	return out
}

// FixCRC recomputes the CRC-32C of a whole batch in place, for tests that edit a batch and
// want it valid again.
func FixCRC(batch []byte) {
	crc := crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(batch[17:], crc)
}

// Values returns n values of size bytes each, value i filled with byte('a'+i%26).
func Values(n, size int) [][]byte {
	vs := make([][]byte, n)
	for i := range vs {
		vs[i] = bytes.Repeat([]byte{byte('a' + i%26)}, size)
	}
	return vs
}

func compress(codec int8, raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch codec {
	case CodecNone:
		return raw, nil
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case CodecSnappy:
		// franz-go sends raw snappy blocks (not xerial framing); Kafka reads both.
		return s2.EncodeSnappy(nil, raw), nil
	case CodecLZ4:
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case CodecZstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer enc.Close()
		return enc.EncodeAll(raw, nil), nil
	default:
		return nil, fmt.Errorf("unknown codec %d", codec)
	}
	return buf.Bytes(), nil
}

// Decompress undoes compress, for tests that check what a batch carries.
func Decompress(codec int8, data []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return data, nil
	case CodecGzip:
		r, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		var out bytes.Buffer
		if _, err := out.ReadFrom(r); err != nil {
			return nil, err
		}
		return out.Bytes(), nil
	case CodecSnappy:
		return s2.Decode(nil, data)
	case CodecLZ4:
		var out bytes.Buffer
		if _, err := out.ReadFrom(lz4.NewReader(bytes.NewReader(data))); err != nil {
			return nil, err
		}
		return out.Bytes(), nil
	case CodecZstd:
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		return dec.DecodeAll(data, nil)
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

// DecodeRecords parses the records of a whole batch (decompressing if needed) with kmsg.
func DecodeRecords(batch []byte) ([]kmsg.Record, error) {
	var b kmsg.RecordBatch
	if err := b.ReadFrom(batch); err != nil {
		return nil, fmt.Errorf("decode batch: %w", err)
	}
	raw, err := Decompress(int8(b.Attributes&7), b.Records)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	recs := make([]kmsg.Record, 0, b.NumRecords)
	for len(raw) > 0 {
		l, w := binary.Varint(raw)
		if w <= 0 || l < 0 || int(l) > len(raw)-w {
			return nil, fmt.Errorf("record %d: bad length", len(recs))
		}
		var r kmsg.Record
		if err := r.ReadFrom(raw[:w+int(l)]); err != nil {
			return nil, fmt.Errorf("record %d: %w", len(recs), err)
		}
		recs = append(recs, r)
		raw = raw[w+int(l):]
	}
	if len(recs) != int(b.NumRecords) {
		return nil, fmt.Errorf("decoded %d records, header says %d", len(recs), b.NumRecords)
	}
	return recs, nil
}
