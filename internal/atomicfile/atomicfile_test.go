package atomicfile

import (
	"os"
	"path/filepath"
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
