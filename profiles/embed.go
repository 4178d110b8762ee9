package profiles

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

// builtin holds the shipped profiles; embed.FS is read-only.
//
//go:embed *.yaml
var builtin embed.FS

// Names lists the built-in profiles, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(builtin, ".") // cannot fail on an embed.FS root
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(out)
	return out
}

// Builtin returns a built-in profile's YAML text.
func Builtin(name string) ([]byte, bool) {
	if !slices.Contains(Names(), name) {
		return nil, false
	}
	b, err := builtin.ReadFile(name + ".yaml")
	return b, err == nil
}
