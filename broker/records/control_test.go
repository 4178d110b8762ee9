package records

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestControlBatch(t *testing.T) {
	for _, commit := range []bool{true, false} {
		b := AppendControlBatch([]byte("prefix"), 42, 7, commit, 3, 1234)[6:]
		sum, err := Validate(b, 1<<20)
		if err == nil {
			t.Fatalf("Validate accepted a control batch from a client (summary %+v)", sum)
		}
		if !VerifyCRC(b) {
			t.Fatalf("bad CRC")
		}
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Control() || !h.Transactional() || h.ProducerID != 42 || h.ProducerEpoch != 7 || h.RecordCount != 1 || h.Size() != len(b) {
			t.Fatalf("header: %+v", h)
		}
		got, ok := ControlCommit(b)
		if !ok || got != commit {
			t.Fatalf("ControlCommit: got %v ok %v, want %v", got, ok, commit)
		}
		// franz-go's decoder agrees with the layout.
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(rb.Records); err != nil {
			t.Fatal(err)
		}
		var key kmsg.ControlRecordKey
		if err := key.ReadFrom(rec.Key); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]kmsg.ControlRecordKeyType{true: kmsg.ControlRecordKeyTypeCommit, false: kmsg.ControlRecordKeyTypeAbort}[commit]; key.Type != want {
			t.Fatalf("kmsg reads type %v, want %v", key.Type, want)
		}
	}
	if _, ok := ControlCommit([]byte{1, 2, 3}); ok {
		t.Fatalf("ControlCommit accepted garbage")
	}
}
