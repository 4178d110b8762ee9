package records

import (
	"encoding/binary"
	"hash/crc32"
)

// Control batches are the transaction markers a coordinator writes to every
// partition of a transaction: one record whose key is (version int16 = 0,
// type int16: 0 abort, 1 commit) and whose value is (version int16 = 0,
// coordinator epoch int32).

// AppendControlBatch appends an uncompressed transaction-marker batch for
// producer pid/epoch to dst. baseOffset is left 0 for the log to assign.
func AppendControlBatch(dst []byte, pid int64, epoch int16, commit bool, coordinatorEpoch int32, ts int64) []byte {
	var rec [32]byte
	body := rec[:0]
	body = append(body, 0)              // record attributes
	body = binary.AppendVarint(body, 0) // timestamp delta
	body = binary.AppendVarint(body, 0) // offset delta
	body = binary.AppendVarint(body, 4) // key length
	body = binary.BigEndian.AppendUint16(body, 0)
	typ := uint16(0)
	if commit {
		typ = 1
	}
	body = binary.BigEndian.AppendUint16(body, typ)
	body = binary.AppendVarint(body, 6) // value length
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint32(body, uint32(coordinatorEpoch))
	body = binary.AppendVarint(body, 0) // headers

	start := len(dst)
	var hdr [HeaderLen]byte
	dst = append(dst, hdr[:]...)
	dst = binary.AppendVarint(dst, int64(len(body)))
	dst = append(dst, body...)
	b := dst[start:]
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(transactionalBit|controlBit))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0)
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff) // -1
	binary.BigEndian.PutUint32(b[offRecordCount:], 1)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst
}

// ControlCommit reports whether a control batch is a commit marker (true) or
// an abort marker (false); ok is false when the batch is not a readable
// transaction marker.
func ControlCommit(batch []byte) (commit, ok bool) {
	if len(batch) < HeaderLen+1 {
		return false, false
	}
	r := batch[HeaderLen:]
	_, n := binary.Varint(r) // record length
	if n <= 0 {
		return false, false
	}
	r = r[n:]
	if len(r) < 1 {
		return false, false
	}
	r = r[1:]                // attributes
	for i := 0; i < 2; i++ { // timestamp delta, offset delta
		if _, n = binary.Varint(r); n <= 0 {
			return false, false
		}
		r = r[n:]
	}
	klen, n := binary.Varint(r)
	if n <= 0 || klen < 4 || len(r[n:]) < 4 {
		return false, false
	}
	r = r[n:]
	switch binary.BigEndian.Uint16(r[2:4]) {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}
