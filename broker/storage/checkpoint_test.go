package storage

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A checkpoint file reads back as written; a missing one is no entries; a
// damaged one is an error naming the file.
func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp")
	if got, err := ReadCheckpoint(path); got != nil || err != nil {
		t.Fatalf("missing file: got %q, %v; want nil, nil", got, err)
	}
	for _, want := range [][]string{{"a 0 17", "a 1 4"}, {}} {
		if err := WriteCheckpoint(path, want); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCheckpoint(path)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	for _, tc := range []struct{ text, want string }{
		{"1\n0\n", "cp: bad header"},
		{"0\n2\nx\n", `cp: count "2" for 1 entries`},
	} {
		if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadCheckpoint(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}
