package nullbroker

import (
	"encoding/binary"
	"errors"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// writeFetch sends a fetch response whose record batches are the served
// templates themselves: the framing is encoded here, field for field as
// kmsg's FetchResponse.AppendTo encodes it (fetchwire_test.go checks the
// bytes against kmsg for every version), and one writev gathers framing,
// rebased base offsets and template bytes. Encoding through kmsg would copy
// every record byte into the response buffer first, which would make the
// ceiling costlier than a sendfile broker.
//
// Only what the null broker sends is supported: no tagged fields beyond the
// defaults, topics by name (v4-12).
func (c *conn) writeFetch(h header, resp *kmsg.FetchResponse, recs [][]servedBatch) error {
	v := resp.Version
	if v < 4 || v > 12 {
		return errors.New("fetch response version out of range")
	}
	flex := v >= 12
	fr := append(c.out[:0], 0, 0, 0, 0)
	fr = binary.BigEndian.AppendUint32(fr, uint32(h.corr))
	if flex {
		fr = append(fr, 0) // response header tags
	}
	fr = binary.BigEndian.AppendUint32(fr, uint32(resp.ThrottleMillis))
	if v >= 7 {
		fr = binary.BigEndian.AppendUint16(fr, uint16(resp.ErrorCode))
		fr = binary.BigEndian.AppendUint32(fr, uint32(resp.SessionID))
	}
	// cuts are where each partition's record bytes go in the framing.
	cuts := c.cuts[:0]
	batches, pi := 0, 0
	total := 0
	fr = appendArrayLen(fr, len(resp.Topics), flex)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		fr = appendString(fr, t.Topic, flex)
		fr = appendArrayLen(fr, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			fr = binary.BigEndian.AppendUint32(fr, uint32(p.Partition))
			fr = binary.BigEndian.AppendUint16(fr, uint16(p.ErrorCode))
			fr = binary.BigEndian.AppendUint64(fr, uint64(p.HighWatermark))
			fr = binary.BigEndian.AppendUint64(fr, uint64(p.LastStableOffset))
			if v >= 5 {
				fr = binary.BigEndian.AppendUint64(fr, uint64(p.LogStartOffset))
			}
			if p.AbortedTransactions == nil {
				fr = appendNullLen(fr, flex)
			} else {
				fr = appendArrayLen(fr, len(p.AbortedTransactions), flex)
				for _, a := range p.AbortedTransactions {
					fr = binary.BigEndian.AppendUint64(fr, uint64(a.ProducerID))
					fr = binary.BigEndian.AppendUint64(fr, uint64(a.FirstOffset))
					if flex {
						fr = append(fr, 0)
					}
				}
			}
			if v >= 11 {
				fr = binary.BigEndian.AppendUint32(fr, uint32(p.PreferredReadReplica))
			}
			if pi >= len(recs) {
				return errors.New("fetch response has more partitions than record lists")
			}
			bs := recs[pi]
			pi++
			if bs == nil {
				fr = appendNullLen(fr, flex)
			} else {
				size := 0
				for _, b := range bs {
					size += len(b.tmpl)
				}
				if flex {
					fr = binary.AppendUvarint(fr, uint64(size)+1)
				} else {
					fr = binary.BigEndian.AppendUint32(fr, uint32(size))
				}
				total += size
				batches += len(bs)
			}
			cuts = append(cuts, len(fr))
			if flex {
				fr = append(fr, 0) // partition tags: all default
			}
		}
		if flex {
			fr = append(fr, 0) // topic tags
		}
	}
	if flex {
		fr = append(fr, 0) // response tags
	}
	binary.BigEndian.PutUint32(fr, uint32(len(fr)-4+total))
	c.out, c.cuts = fr, cuts

	// Base offsets live in one buffer sized up front, so the slices into
	// it stay valid.
	if cap(c.offs) < 8*batches {
		c.offs = make([]byte, 8*batches)
	}
	offs := c.offs[:8*batches]
	bufs := c.bufs[:0]
	prev, k := 0, 0
	for i, cut := range cuts {
		bufs = append(bufs, fr[prev:cut])
		prev = cut
		for _, b := range recs[i] {
			o := offs[8*k : 8*k+8 : 8*k+8]
			binary.BigEndian.PutUint64(o, uint64(b.offset))
			bufs = append(bufs, o, b.tmpl[8:])
			k++
		}
	}
	bufs = append(bufs, fr[prev:])
	c.bufs = bufs[:0]
	nb := net.Buffers(bufs)
	_, err := nb.WriteTo(c.w)
	return err
}

func appendArrayLen(dst []byte, n int, flex bool) []byte {
	if flex {
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func appendString(dst []byte, s string, flex bool) []byte {
	if flex {
		dst = binary.AppendUvarint(dst, uint64(len(s))+1)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	}
	return append(dst, s...)
}

// appendNullLen writes a null array or bytes length.
func appendNullLen(dst []byte, flex bool) []byte {
	if flex {
		return append(dst, 0)
	}
	return binary.BigEndian.AppendUint32(dst, 0xffffffff)
}
