package records_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
	"github.com/kbench/kbench/broker/records/recordstest"
)

var allCodecs = []int8{
	recordstest.CodecNone, recordstest.CodecGzip, recordstest.CodecSnappy,
	recordstest.CodecLZ4, recordstest.CodecZstd,
}

// rawBatch wraps hand-made record bytes in a batch header with a valid CRC, so tests can
// feed Validate records that break one rule at a time.
func rawBatch(recs []byte, count, lastDelta int32) []byte {
	b := kmsg.RecordBatch{
		Length:               int32(49 + len(recs)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      lastDelta,
		ProducerID:           -1,
		NumRecords:           count,
		Records:              recs,
	}
	out := b.AppendTo(nil)
	recordstest.FixCRC(out)
	return out
}

// record encodes one record with kmsg, letting the test pick the offset delta.
func record(offsetDelta int32, key, value []byte, hdrs ...kmsg.Header) []byte {
	r := kmsg.Record{OffsetDelta: offsetDelta, Key: key, Value: value, Headers: hdrs}
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	return r.AppendTo(nil)
}

func TestParseHeader(t *testing.T) {
	b := recordstest.Batch(recordstest.BatchOpts{
		Values:               recordstest.Values(3, 10),
		Codec:                recordstest.CodecZstd,
		ProducerID:           77,
		ProducerEpoch:        5,
		BaseSequence:         42,
		Transactional:        true,
		BaseOffset:           1000,
		PartitionLeaderEpoch: 9,
		Timestamp:            1_700_000_000_000,
		TimestampStep:        10,
	})
	h, err := records.ParseHeader(b)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	var k kmsg.RecordBatch
	if err := k.ReadFrom(b); err != nil {
		t.Fatalf("kmsg decode: %v", err)
	}
	want := records.Header{
		BaseOffset: k.FirstOffset, Length: k.Length, PartitionLeaderEpoch: k.PartitionLeaderEpoch,
		Magic: k.Magic, CRC: uint32(k.CRC), Attributes: k.Attributes, LastOffsetDelta: k.LastOffsetDelta,
		BaseTimestamp: k.FirstTimestamp, MaxTimestamp: k.MaxTimestamp, ProducerID: k.ProducerID,
		ProducerEpoch: k.ProducerEpoch, BaseSequence: k.FirstSequence, RecordCount: k.NumRecords,
	}
	if h != want {
		t.Fatalf("got %+v, want %+v", h, want)
	}
	if h.BaseOffset != 1000 || h.MaxTimestamp != 1_700_000_000_020 || h.RecordCount != 3 {
		t.Fatalf("got %+v, want baseOffset 1000, maxTimestamp 1700000000020, 3 records", h)
	}
	if got := h.Codec(); got != recordstest.CodecZstd {
		t.Errorf("Codec: got %d, want 4", got)
	}
	if !h.Transactional() || h.Control() || h.TimestampType() != 0 {
		t.Errorf("flags: got transactional=%v control=%v tsType=%d, want true false 0",
			h.Transactional(), h.Control(), h.TimestampType())
	}
	if h.Size() != len(b) {
		t.Errorf("Size: got %d, want %d", h.Size(), len(b))
	}
	if h.LastOffset() != 1002 || h.NextOffset() != 1003 {
		t.Errorf("LastOffset/NextOffset: got %d/%d, want 1002/1003", h.LastOffset(), h.NextOffset())
	}
}

func TestParseHeaderErrors(t *testing.T) {
	valid := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(1, 5)})
	magic1 := bytes.Clone(valid)
	magic1[16] = 1
	shortLen := bytes.Clone(valid)
	binary.BigEndian.PutUint32(shortLen[8:], 48)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, records.ErrCorrupt},
		{"short", valid[:60], records.ErrCorrupt},
		{"short legacy", magic1[:30], records.ErrUnsupportedMagic},
		{"magic 1", magic1, records.ErrUnsupportedMagic},
		{"length below header", shortLen, records.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := records.ParseHeader(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(fmt.Sprintf("codec=%d", codec), func(t *testing.T) {
			b1 := recordstest.Batch(recordstest.BatchOpts{
				Values:    recordstest.Values(50, 100),
				Keys:      append([][]byte{nil}, recordstest.Values(49, 3)...),
				Headers:   []kmsg.Header{{Key: "h", Value: []byte("v")}, {Key: "n"}},
				Codec:     codec,
				Timestamp: 500, TimestampStep: 2,
			})
			b2 := recordstest.Batch(recordstest.BatchOpts{
				Values: recordstest.Values(7, 1), Codec: codec, Timestamp: 400,
				ProducerID: 3, ProducerEpoch: 1, Idempotent: true,
			})
			buf := append(bytes.Clone(b1), b2...)
			s, err := records.Validate(buf, 1<<20)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if s.Batches != 2 || s.Records != 57 || s.Bytes != len(buf) || s.MaxTimestamp != 598 {
				t.Fatalf("got %+v, want 2 batches, 57 records, %d bytes, max ts 598", s, len(buf))
			}
			if s.FirstHeader.RecordCount != 50 || s.LastHeader.RecordCount != 7 || s.LastHeader.ProducerID != 3 {
				t.Fatalf("got first %+v last %+v, want counts 50 and 7, last pid 3", s.FirstHeader, s.LastHeader)
			}
			// The batch must also decode with kmsg to the same records.
			recs, err := recordstest.DecodeRecords(b1)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(recs) != 50 || recs[0].Key != nil || string(recs[1].Key) != "aaa" || len(recs[49].Value) != 100 {
				t.Fatalf("decoded records do not match what was built")
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	valid := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(3, 20)})
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(valid)
		f(b)
		recordstest.FixCRC(b)
		return b
	}
	r0, r1, r2 := record(0, nil, []byte("a")), record(1, []byte("k"), nil), record(2, nil, []byte("c"))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	badKey := record(0, []byte("kk"), []byte("v"))
	// Key length -2 is neither null nor a length.
	badKey[4] = 3 // zigzag(-2) = 3
	// attrs, ts, offset, key null, value "v", one header whose key is null (not allowed).
	nullHeaderKey := []byte{18, 0, 0, 0, 1, 2, 'v', 2, 1, 1}
	longVarint := cat(bytes.Repeat([]byte{0xff}, 11))

	tests := []struct {
		name string
		buf  []byte
		max  int
		want error
	}{
		{"empty", nil, 0, records.ErrInvalidRecord},
		{"few bytes", valid[:10], 0, records.ErrCorrupt},
		{"header cut", valid[:40], 0, records.ErrCorrupt},
		{"batch cut", valid[:len(valid)-1], 0, records.ErrCorrupt},
		{"partial trailing batch", append(bytes.Clone(valid), valid[:70]...), 0, records.ErrCorrupt},
		{"magic 1", edit(func(b []byte) { b[16] = 1 }), 0, records.ErrUnsupportedMagic},
		{"magic 0 legacy message", func() []byte {
			m := kmsg.MessageV0{Offset: 0, MessageSize: 14, Magic: 0, Value: []byte("x")}
			return m.AppendTo(nil)
		}(), 0, records.ErrUnsupportedMagic},
		{"length below header", edit(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 40) }), 0, records.ErrCorrupt},
		{"negative length", edit(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 0xffffff00) }), 0, records.ErrCorrupt},
		{"crc flipped", func() []byte { b := bytes.Clone(valid); b[len(b)-1] ^= 1; return b }(), 0, records.ErrCorrupt},
		{"crc field wrong", func() []byte { b := bytes.Clone(valid); b[18] ^= 0x80; return b }(), 0, records.ErrCorrupt},
		{"too large", valid, len(valid) - 1, records.ErrTooLarge},
		{"zero records", rawBatch(nil, 0, -1), 0, records.ErrInvalidRecord},
		{"count vs last delta", edit(func(b []byte) { binary.BigEndian.PutUint32(b[23:], 5) }), 0, records.ErrInvalidRecord},
		{"control batch", edit(func(b []byte) { b[22] |= 0x20 }), 0, records.ErrInvalidRecord},
		{"unknown codec", edit(func(b []byte) { b[22] |= 0x05 }), 0, records.ErrInvalidRecord},
		{"offset deltas out of order", rawBatch(cat(r0, record(2, nil, nil), r2), 3, 2), 0, records.ErrInvalidRecord},
		{"fewer records than count", rawBatch(cat(r0, r1), 3, 2), 0, records.ErrInvalidRecord},
		{"trailing bytes", rawBatch(cat(r0, r1, r2, []byte{0}), 3, 2), 0, records.ErrInvalidRecord},
		{"record length past batch", rawBatch(cat(r0, r1, []byte{0x7e, 0, 0}), 3, 2), 0, records.ErrInvalidRecord},
		{"bad varint", rawBatch(longVarint, 1, 0), 0, records.ErrInvalidRecord},
		{"bad key length", rawBatch(badKey, 1, 0), 0, records.ErrInvalidRecord},
		{"record leftover", rawBatch(func() []byte {
			r := record(0, nil, []byte("v"))
			r[0] += 2 // claims one byte more than its fields use
			return append(r, 0)
		}(), 1, 0), 0, records.ErrInvalidRecord},
		{"null header key", rawBatch(nullHeaderKey, 1, 0), 0, records.ErrInvalidRecord},
		{"good then bad", append(bytes.Clone(valid), edit(func(b []byte) { b[16] = 3 })...), 0, records.ErrUnsupportedMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := records.Validate(tt.buf, tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// The hand-built records themselves are fine when assembled correctly.
	if _, err := records.Validate(rawBatch(cat(r0, r1, r2), 3, 2), 0); err != nil {
		t.Fatalf("well-formed hand-built batch: %v", err)
	}
}

func TestValidateDoesNotAllocate(t *testing.T) {
	buf := recordstest.Batch(recordstest.BatchOpts{
		Values:  recordstest.Values(200, 100),
		Headers: []kmsg.Header{{Key: "a", Value: []byte("b")}},
	})
	buf = append(buf, recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(5, 10), Codec: recordstest.CodecZstd})...)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := records.Validate(buf, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("got %v allocations per Validate, want 0", allocs)
	}
}

func TestRewrites(t *testing.T) {
	b := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(4, 8), Timestamp: 100, TimestampStep: 1})
	records.SetBaseOffset(b, 1234567)
	records.SetPartitionLeaderEpoch(b, 17)
	if _, err := records.Validate(b, 0); err != nil {
		t.Fatalf("offset and epoch rewrite must keep the CRC valid: %v", err)
	}
	h, _ := records.ParseHeader(b)
	if h.BaseOffset != 1234567 || h.PartitionLeaderEpoch != 17 {
		t.Fatalf("got base %d epoch %d, want 1234567 17", h.BaseOffset, h.PartitionLeaderEpoch)
	}

	records.SetLogAppendTime(b, 999_000)
	if _, err := records.Validate(b, 0); err != nil {
		t.Fatalf("after SetLogAppendTime: %v", err)
	}
	h, _ = records.ParseHeader(b)
	if h.TimestampType() != 1 || h.MaxTimestamp != 999_000 || h.BaseTimestamp != 100 {
		t.Fatalf("got type %d max %d base %d, want 1 999000 100", h.TimestampType(), h.MaxTimestamp, h.BaseTimestamp)
	}
	var k kmsg.RecordBatch
	if err := k.ReadFrom(b); err != nil || k.Attributes&0x08 == 0 {
		t.Fatalf("kmsg sees attributes %x, err %v; want the timestamp-type bit", k.Attributes, err)
	}
	if !records.VerifyCRC(b) {
		t.Fatal("VerifyCRC: got false after SetLogAppendTime, want true")
	}
	b[len(b)-1] ^= 0xff
	if records.VerifyCRC(b) {
		t.Fatal("VerifyCRC: got true for a damaged batch, want false")
	}
	if records.VerifyCRC(b[:30]) {
		t.Fatal("VerifyCRC: got true for a cut batch, want false")
	}
}

func TestIterate(t *testing.T) {
	var buf []byte
	var sizes []int
	for i := range 3 {
		b := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(i+1, 30), BaseOffset: int64(10 * i)})
		sizes = append(sizes, len(b))
		buf = append(buf, b...)
	}
	whole := len(buf)
	buf = append(buf, recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(2, 30)})[:80]...)

	var bases []int64
	n, err := records.Iterate(buf, func(h records.Header, b []byte) bool {
		if len(b) != h.Size() {
			t.Errorf("batch slice %d bytes, header says %d", len(b), h.Size())
		}
		bases = append(bases, h.BaseOffset)
		return true
	})
	if err != nil || n != whole {
		t.Fatalf("got consumed %d err %v, want %d nil (torn tail is not an error)", n, err, whole)
	}
	if fmt.Sprint(bases) != "[0 10 20]" {
		t.Fatalf("got bases %v, want [0 10 20]", bases)
	}

	n, _ = records.Iterate(buf, func(h records.Header, _ []byte) bool { return h.BaseOffset < 10 })
	if n != sizes[0] {
		t.Fatalf("stopping at the second batch: got consumed %d, want %d", n, sizes[0])
	}

	bad := bytes.Clone(buf)
	bad[sizes[0]+16] = 0
	n, err = records.Iterate(bad, func(records.Header, []byte) bool { return true })
	if n != sizes[0] || !errors.Is(err, records.ErrUnsupportedMagic) {
		t.Fatalf("bad magic in batch 2: got %d %v, want %d and ErrUnsupportedMagic", n, err, sizes[0])
	}
}

// fuzzSeeds are valid encodings from kmsg plus a few near misses.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, c := range allCodecs {
		seeds = append(seeds, recordstest.Batch(recordstest.BatchOpts{
			Values: recordstest.Values(3, 16), Codec: c, Timestamp: 1, TimestampStep: 1,
			Headers: []kmsg.Header{{Key: "k", Value: []byte("v")}},
		}))
	}
	two := append(bytes.Clone(seeds[0]), recordstest.Batch(recordstest.BatchOpts{
		Values: [][]byte{nil, {}}, Keys: [][]byte{[]byte("x"), nil}, Transactional: true,
	})...)
	seeds = append(seeds, two, seeds[0][:len(seeds[0])-3], seeds[0][:20])
	return seeds
}

func FuzzValidate(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, 0)
		f.Add(s, 100)
	}
	f.Fuzz(func(t *testing.T, buf []byte, max int) {
		s, err := records.Validate(buf, max)
		if err != nil {
			if !errors.Is(err, records.ErrCorrupt) && !errors.Is(err, records.ErrUnsupportedMagic) &&
				!errors.Is(err, records.ErrInvalidRecord) && !errors.Is(err, records.ErrTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if s.Bytes != len(buf) {
			t.Fatalf("summary covers %d bytes of %d", s.Bytes, len(buf))
		}
		batches, recs := 0, 0
		n, err := records.Iterate(buf, func(h records.Header, b []byte) bool {
			batches++
			recs += int(h.RecordCount)
			if !records.VerifyCRC(b) {
				t.Fatalf("accepted batch %d fails VerifyCRC", batches)
			}
			if max > 0 && len(b) > max {
				t.Fatalf("accepted a %d byte batch over the %d limit", len(b), max)
			}
			if h.Codec() == 0 {
				// Differential check: kmsg must decode what Validate walked.
				got, err := recordstest.DecodeRecords(b)
				if err != nil {
					t.Fatalf("Validate accepted a batch kmsg cannot decode: %v", err)
				}
				for i, r := range got {
					if r.OffsetDelta != int32(i) {
						t.Fatalf("record %d has offset delta %d", i, r.OffsetDelta)
					}
				}
			}
			return true
		})
		if err != nil || n != len(buf) || batches != s.Batches || recs != s.Records {
			t.Fatalf("Iterate: %d bytes %d batches %d records err %v; Validate: %+v", n, batches, recs, err, s)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	for _, c := range []int8{recordstest.CodecNone, recordstest.CodecZstd} {
		for _, sz := range []int{100, 1024} {
			buf := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(16384/sz, sz), Codec: c})
			b.Run(fmt.Sprintf("Codec=%d/MsgSz=%d", c, sz), func(b *testing.B) {
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := records.Validate(buf, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
