package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceDecoder decodes produce requests into one reused struct, reusing
// the nested partition slices too — kmsg's generated decoder zeroes the
// topics it reuses and so allocates every topic's partition slice again,
// the last allocation of the steady-state produce path. It reads the same
// wire format with franz-go's own primitives (kbin) and rejects exactly what
// kmsg rejects (FuzzProduceDecode compares the two). Strings and record
// bytes alias the frame: the connection reuses frame and struct for its
// next produce request, so nothing decoded may outlive the handler.
type produceDecoder struct {
	req   kmsg.ProduceRequest
	txnID string // what req.TransactionID points to, when set
}

// maxDecodedProduceVersion is the newest version this decoder reads (v10+
// add tagged fields it does not model); newer ones go through kmsg.
const maxDecodedProduceVersion = 9

func (d *produceDecoder) decode(version int16, src []byte) (*kmsg.ProduceRequest, error) {
	r := &d.req
	if version < 0 || version > maxDecodedProduceVersion {
		*r = kmsg.ProduceRequest{Version: version}
		if err := r.UnsafeReadFrom(src); err != nil {
			return nil, err
		}
		return r, nil
	}
	flexible := version >= 9
	b := kbin.Reader{Src: src}
	r.Version = version
	r.TransactionID = nil
	if version >= 3 {
		var id *string
		if flexible {
			if l := int(b.Uvarint()) - 1; l >= 0 {
				d.txnID = kbin.UnsafeString(b.Span(l))
				id = &d.txnID
			}
		} else if l := b.Int16(); l >= 0 {
			d.txnID = kbin.UnsafeString(b.Span(int(l)))
			id = &d.txnID
		}
		r.TransactionID = id
	}
	r.Acks = b.Int16()
	r.TimeoutMillis = b.Int32()
	n := arrayLen(&b, flexible)
	if !b.Ok() || int64(n)*2 > int64(len(b.Src)) {
		return nil, kbin.ErrNotEnoughData
	}
	r.Topics = resize(r.Topics, n)
	for i := range r.Topics {
		t := &r.Topics[i]
		if flexible {
			t.Topic = kbin.UnsafeString(b.Span(int(b.Uvarint()) - 1))
		} else {
			t.Topic = kbin.UnsafeString(b.Span(int(b.Int16())))
		}
		pn := arrayLen(&b, flexible)
		if !b.Ok() || int64(pn)*6 > int64(len(b.Src)) {
			return nil, kbin.ErrNotEnoughData
		}
		t.Partitions = resize(t.Partitions, pn)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = b.Int32()
			if flexible {
				p.Records = b.CompactNullableBytes()
				skipTags(&b)
			} else {
				p.Records = b.NullableBytes()
			}
		}
		if flexible {
			skipTags(&b)
		}
	}
	if flexible {
		skipTags(&b)
	}
	if err := b.Complete(); err != nil {
		return nil, fmt.Errorf("produce v%d: %w", version, err)
	}
	return r, nil
}

// arrayLen reads an array length, compact in flexible versions; a null
// array (-1) reads as 0.
func arrayLen(b *kbin.Reader, flexible bool) int {
	var n int32
	if flexible {
		n = b.CompactArrayLen()
	} else {
		n = b.ArrayLen()
	}
	return int(max(n, 0))
}

// resize returns s with length n, reusing its array and what its elements
// hold (the decoder overwrites every field it reads; the partition slices
// inside are what it wants to keep).
func resize[T any](s []T, n int) []T {
	if n <= cap(s) {
		return s[:n]
	}
	return append(s[:cap(s)], make([]T, n-cap(s))...)[:n]
}

// skipTags skips a tagged-field section: produce requests up to v9 define
// no tags, and unknown ones are ignored, as kmsg keeps them unread.
func skipTags(b *kbin.Reader) {
	for n := b.Uvarint(); n > 0 && b.Ok(); n-- {
		b.Uvarint() // key
		b.Span(int(b.Uvarint()))
	}
}
