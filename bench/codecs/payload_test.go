package codecs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParsePayloadErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"xml":                "unknown payload",
		"random":             "random:RATIO",
		"random:1.5":         "random:RATIO",
		"random:abc":         "random:RATIO",
		"json:5":             "no argument",
		"file:":              "needs a path",
		"file:/nonexistent/": "--payload",
	} {
		if _, err := ParsePayload(spec, 100, 1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePayload(%q): got %v, want an error mentioning %q", spec, err, want)
		}
	}
	if _, err := ParsePayload("random:0.5", 0, 1); err == nil || !strings.Contains(err.Error(), "--record-size") {
		t.Errorf("random with no size: got %v, want a --record-size error", err)
	}
}

func TestRandomPayload(t *testing.T) {
	for _, ratio := range []float64{0, 0.25, 0.5, 1} {
		p, err := ParsePayload("random:"+strconv.FormatFloat(ratio, 'g', -1, 64), 1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		v := p.Next([]byte("prefix"))
		if !bytes.HasPrefix(v, []byte("prefix")) || len(v) != 1006 {
			t.Fatalf("ratio %v: Next must append 1000 bytes, got %d", ratio, len(v)-6)
		}
		v = v[6:]
		zeros := bytes.Count(v[int(ratio*1000):], []byte{0})
		if zeros != 1000-int(ratio*1000) {
			t.Errorf("ratio %v: got %d zero bytes in the tail, want %d", ratio, zeros, 1000-int(ratio*1000))
		}
		// The random head has about 1/256 zero bytes, not a run of them.
		if head := v[:int(ratio*1000)]; len(head) > 100 && bytes.Count(head, []byte{0}) > len(head)/40 {
			t.Errorf("ratio %v: random head is too regular", ratio)
		}
	}
}

func TestJSONPayload(t *testing.T) {
	p := newJSONPayload(1024, 1)
	sessions := map[string]int{}
	for i := range 2000 {
		v := p.Next(nil)
		var ev struct {
			Session string `json:"session_id"`
			Type    string `json:"type"`
			TS      int64  `json:"ts"`
		}
		if err := json.Unmarshal(v, &ev); err != nil {
			t.Fatalf("event %d is not JSON: %v\n%s", i, err, v)
		}
		if k := string(p.Key(nil)); k != ev.Session {
			t.Fatalf("event %d: key %q, want its session id %q", i, k, ev.Session)
		}
		if len(v) < 1000 || len(v) > 1100 {
			t.Errorf("event %d: %d bytes, want about 1024", i, len(v))
		}
		sessions[ev.Session]++
	}
	// Many interleaved sessions, several events each.
	if len(sessions) < 300 || len(sessions) > 1500 {
		t.Errorf("got %d sessions in 2000 events", len(sessions))
	}
	// Same seed, same stream; different seed, different stream.
	a, b, c := newJSONPayload(0, 4), newJSONPayload(0, 4), newJSONPayload(0, 5)
	va, vb, vc := a.Next(nil), b.Next(nil), c.Next(nil)
	if !bytes.Equal(va, vb) || bytes.Equal(va, vc) {
		t.Error("the json stream must depend on the seed alone")
	}
}

func TestFilePayload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(path, []byte("alpha\n\nbeta\r\ngamma"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePayload("file:"+path, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 200 {
		seen[string(p.Next(nil))] = true
	}
	if len(seen) != 3 || !seen["alpha"] || !seen["beta"] || !seen["gamma"] {
		t.Errorf("got lines %v, want alpha, beta, gamma", seen)
	}
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, []byte("\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePayload("file:"+empty, 0, 1); err == nil {
		t.Error("a file with no lines must be an error")
	}
}

func TestParseKeys(t *testing.T) {
	p := newJSONPayload(0, 1)
	if k, err := parseKeys("auto", p, 1); err != nil || k.key(nil) == nil {
		t.Errorf("auto on json: %v, want session keys", err)
	}
	r, _ := ParsePayload("random:1", 10, 1)
	k, err := parseKeys("auto", r, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(k.key(nil)); !strings.HasPrefix(got, "key-") || len(got) != 10 {
		t.Errorf("auto on random: key %q, want key-NNNNNN", got)
	}
	if k, _ := parseKeys("none", r, 1); k.key(nil) != nil {
		t.Error("none must give null keys")
	}
	u, err := parseKeys("uniform:3", r, 1)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for range 100 {
		distinct[string(u.key(nil))] = true
	}
	if len(distinct) != 3 {
		t.Errorf("uniform:3 gave %d distinct keys", len(distinct))
	}
	for _, bad := range []string{"uniform:0", "uniform:x", "zipf:10"} {
		if _, err := parseKeys(bad, r, 1); err == nil || !strings.Contains(err.Error(), "--keys") {
			t.Errorf("parseKeys(%q): got %v, want a --keys error", bad, err)
		}
	}
}
