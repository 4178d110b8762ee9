package storage

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kbench/kbench/broker/records"
)

// readKeyed reads the whole log back: key → value at each offset.
func readKeyed(t *testing.T, l *Log) (offsets []int64, kvs []records.KV) {
	t.Helper()
	data, err := l.ReadBytes(l.StartOffset(), math.MaxInt32, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := records.Iterate(data, func(h records.Header, b []byte) bool {
		if !records.VerifyCRC(b) {
			t.Fatalf("batch at %d: bad CRC after cleaning", h.BaseOffset)
		}
		if err := records.EachRecord(b, func(r records.Record) bool {
			offsets = append(offsets, h.BaseOffset+int64(r.OffsetDelta))
			kvs = append(kvs, records.KV{Key: r.Key, Value: r.Value})
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return offsets, kvs
}

// TestCompactKeepsLatestPerKey: after cleaning, every key's latest record
// is there at its original offset, older ones are gone, expired tombstones
// go while recent ones stay, the active segment is untouched, and the
// result survives a reopen.
func TestCompactKeepsLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(400, 64)
	clock := newClock()
	cfg.Now = clock.Now
	l := openLog(t, dir, cfg)
	const ts = 1_700_000_000_000
	appendKV := func(kvs ...records.KV) {
		if _, _, err := l.Append(records.AppendBatch(nil, ts, kvs), 0); err != nil {
			t.Fatal(err)
		}
	}
	// 60 updates over 4 keys, two records per batch; k3 is deleted midway.
	for i := 0; i < 30; i++ {
		a := records.KV{Key: []byte(fmt.Sprintf("k%d", (2*i)%4)), Value: []byte(fmt.Sprintf("v%d", 2*i))}
		b := records.KV{Key: []byte(fmt.Sprintf("k%d", (2*i+1)%4)), Value: []byte(fmt.Sprintf("v%d", 2*i+1))}
		if i == 20 {
			b.Value = nil // tombstone for k3 at offset 41
		}
		appendKV(a, b)
	}
	appendKV(records.KV{Key: []byte("last"), Value: []byte("x")}) // the active segment
	if len(l.segs) < 4 {
		t.Fatalf("only %d segments: the test needs sealed ones", len(l.segs))
	}
	end := l.EndOffset()

	// Tombstones are recent: they stay.
	st, err := l.Compact(ts+1000, 60_000)
	if err != nil {
		t.Fatal(err)
	}
	if st.Segments == 0 || st.RecordsRemoved == 0 || st.BytesAfter >= st.BytesBefore {
		t.Fatalf("nothing cleaned: %+v", st)
	}
	want := map[string]string{"k0": "v56", "k1": "v57", "k2": "v58", "k3": "v59", "last": "x"}
	check := func(what string, want map[string]string, n int) {
		t.Helper()
		offs, kvs := readKeyed(t, l)
		got := map[string]string{}
		kept := 0 // records of keys other than the fillers, which may repeat in the active segment
		for i, kv := range kvs {
			if i > 0 && offs[i] <= offs[i-1] {
				t.Fatalf("%s: offsets not increasing: %v", what, offs)
			}
			got[string(kv.Key)] = string(kv.Value)
			if !strings.HasPrefix(string(kv.Key), "filler") {
				kept++
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || kept != n {
			t.Fatalf("%s: %d records %v, want %d records %v", what, kept, got, n, want)
		}
		if l.EndOffset() != end {
			t.Fatalf("%s: end offset %d, want %d", what, l.EndOffset(), end)
		}
	}
	check("first pass", want, 5)

	// k3's tombstone: later overwritten (v59) so it went already. Delete k2
	// now, roll, and clean past delete.retention.ms: the tombstone goes too.
	appendKV(records.KV{Key: []byte("k2")})
	for i := 0; i < 10; i++ {
		appendKV(records.KV{Key: []byte("filler"), Value: []byte(fmt.Sprintf("%040d", i))})
	}
	end = l.EndOffset()
	if _, err := l.Compact(ts+1000, 60_000); err != nil {
		t.Fatal(err)
	}
	delete(want, "k2")
	want["filler"] = fmt.Sprintf("%040d", 9)
	// The recent tombstone of k2 stays (value nil prints as empty).
	want2 := map[string]string{"k0": "v56", "k1": "v57", "k2": "", "k3": "v59", "last": "x", "filler": want["filler"]}
	check("recent tombstone", want2, 5)
	appendKV(records.KV{Key: []byte("filler2"), Value: make([]byte, 400)}) // roll once more
	end = l.EndOffset()
	if _, err := l.Compact(ts+120_000, 60_000); err != nil {
		t.Fatal(err)
	}
	want["filler2"] = string(make([]byte, 400))
	check("expired tombstone", want, 4)

	// A reopened log reads the same.
	l.Close()
	l = openLog(t, dir, cfg)
	check("reopened", want, 4)
}
