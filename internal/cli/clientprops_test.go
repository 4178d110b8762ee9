package cli

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPropertiesFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    map[string]string
	}{
		{"separators and comments", "# comment\n! also a comment\n\nbootstrap.servers=a:1,b:2\nacks: all\nlinger.ms 5\n  client.id = spaced  \n",
			map[string]string{"bootstrap.servers": "a:1,b:2", "acks": "all", "linger.ms": "5", "client.id": "spaced"}},
		{"continued jaas line", "security.protocol=SASL_SSL\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n    username=\"alice\" \\\n    password=\"p=w\";\n",
			map[string]string{"security.protocol": "SASL_SSL", "sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p=w";`}},
		{"escapes", "key\\=with\\:seps=v\\tal\\\\ue\\u0041\n", map[string]string{"key=with:seps": "v\tal\\ueA"}},
		{"even backslashes do not continue", "a=x\\\\\nb=y\n", map[string]string{"a": `x\`, "b": "y"}},
		{"empty value and last line without newline", "a=\nb=2", map[string]string{"a": "", "b": "2"}},
		{"windows line endings are trimmed", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "client.properties")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readPropertiesFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := readPropertiesFile(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: got %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.properties")
	if err := os.WriteFile(path, []byte("ok=1\n\n=novalue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readPropertiesFile(path); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("key-less line: got %v, want an error naming line 3", err)
	}
}

func TestParseKV(t *testing.T) {
	got, err := parseKV("--producer-props", []string{"acks=1", "linger.ms = 5", "partition.assignment.strategy=range,sticky", "acks=all"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"acks": "all", "linger.ms": "5", "partition.assignment.strategy": "range,sticky"}
	if !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"novalue", "=x"} {
		if _, err := parseKV("--producer-props", []string{bad}); err == nil || !strings.Contains(err.Error(), "--producer-props") {
			t.Errorf("%q: got %v, want an error naming the flag", bad, err)
		}
	}
}
