package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header is the record header carrying a record's unique id.
const Header = "kbench-id"

// ID identifies one record of one audited run: the producer's index in
// the run and the record's sequence number in that producer (0, 1, ...).
type ID struct {
	Producer int    `json:"producer"`
	Seq      uint64 `json:"seq"`
}

func (id ID) String() string { return fmt.Sprintf("%d:%d", id.Producer, id.Seq) }

// errBadID marks a kbench-id header that does not decode.
var errBadID = errors.New("malformed kbench-id header")

// AppendID appends a header value: the run id (8 bytes, big endian), then
// the producer index and the sequence number as uvarints. A record of a
// 1-producer run at sequence 1,000,000 carries 12 bytes.
func AppendID(dst []byte, run uint64, id ID) []byte {
	dst = binary.BigEndian.AppendUint64(dst, run)
	dst = binary.AppendUvarint(dst, uint64(id.Producer))
	return binary.AppendUvarint(dst, id.Seq)
}

// ParseID reads a header value written by AppendID.
func ParseID(b []byte) (run uint64, id ID, err error) {
	if len(b) < 10 {
		return 0, ID{}, fmt.Errorf("%w: %d bytes", errBadID, len(b))
	}
	run = binary.BigEndian.Uint64(b)
	// Only minimal varints: one id has one encoding.
	p, n := binary.Uvarint(b[8:])
	if n <= 0 || p > 1<<31 || n != uvarintLen(p) {
		return 0, ID{}, fmt.Errorf("%w: producer", errBadID)
	}
	s, m := binary.Uvarint(b[8+n:])
	if m <= 0 || 8+n+m != len(b) || m != uvarintLen(s) {
		return 0, ID{}, fmt.Errorf("%w: sequence", errBadID)
	}
	return run, ID{Producer: int(p), Seq: s}, nil
}

func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}
