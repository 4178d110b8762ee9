package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, sync := range []bool{true, false} {
		for _, data := range []string{"first", "second, longer", ""} {
			if err := Write(path, []byte(data), sync); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != data {
				t.Fatalf("got %q, %v; want %q", got, err, data)
			}
			if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
				t.Fatalf("temporary file left behind: %v", err)
			}
		}
	}
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), true); err == nil {
		t.Fatal("write into a missing directory: got no error")
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteJSON(path, map[string]int{"b": 2, "a": 1}, false); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if want := "{\n  \"a\": 1,\n  \"b\": 2\n}\n"; err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	err = WriteJSON(path, func() {}, false)
	if err == nil || !strings.Contains(err.Error(), "encode r.json") {
		t.Fatalf("unencodable value: got %v, want an error naming r.json", err)
	}
	if got, _ := os.ReadFile(path); !strings.HasPrefix(string(got), "{") {
		t.Fatalf("a failed encode replaced the file: got %q", got)
	}
}
