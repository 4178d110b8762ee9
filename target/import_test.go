package target_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/kbench/kbench"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
}

// importRules are the module's layering, checked on the imports of every
// non-test package: the system under test (broker/) knows nothing of the
// benchmark; the load generator (bench/) reaches the broker packages only
// through this package; profiles are read without any broker package; the
// CLI is a leaf that only the command imports.
var importRules = []struct {
	name     string
	from     string // package path prefix below the module ("" = every package)
	except   string // package path below the module exempt from the rule
	imported string // forbidden import path prefix below the module
}{
	{"bench reaches the broker only through target", "bench", "", "broker"},
	{"profiles import no broker package", "profiles", "", "broker"},
	{"only the command imports the CLI", "", "cmd/kbench", "internal/cli"},
	{"the broker knows nothing of the benchmark", "broker", "", "bench"},
	{"the broker knows nothing of its targets", "broker", "", "target"},
	{"the broker knows nothing of profiles", "broker", "", "profiles"},
	{"the broker knows nothing of reports", "broker", "", "reports"},
}

// under reports whether path is the package rel below the module or one
// below it ("" matches every package of the module).
func under(path, rel string) bool {
	if rel == "" {
		return strings.HasPrefix(path, module+"/") || path == module
	}
	p := module + "/" + rel
	return path == p || strings.HasPrefix(path, p+"/")
}

// importViolations lists every import that breaks a rule.
func importViolations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range importRules {
			if !under(p.ImportPath, r.from) || (r.except != "" && under(p.ImportPath, r.except)) {
				continue
			}
			for _, imp := range p.Imports {
				if under(imp, r.imported) {
					out = append(out, fmt.Sprintf("%s imports %s (%s)", p.ImportPath, imp, r.name))
				}
			}
		}
	}
	return out
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == module+"/target" }) || len(pkgs) < 20 {
		t.Fatalf("go list found %d packages, without this one: not the module", len(pkgs))
	}
	for _, v := range importViolations(pkgs) {
		t.Error(v)
	}
}

// The checker itself: each rule catches a graph that breaks it, and lets
// through the imports the layering allows.
func TestImportViolations(t *testing.T) {
	m := func(rel string) string { return module + "/" + rel }
	for _, tc := range []struct {
		name string
		pkg  pkg
		want int
	}{
		{"bench imports broker", pkg{m("bench"), []string{m("broker")}}, 1},
		{"bench subpackage imports broker subpackage", pkg{m("bench/faults"), []string{m("broker/cluster")}}, 1},
		{"bench imports target", pkg{m("bench/sweep"), []string{m("target"), "fmt"}}, 0},
		{"target imports broker", pkg{m("target"), []string{m("broker"), m("broker/cluster")}}, 0},
		{"profiles import internal/topicconf", pkg{m("profiles"), []string{m("internal/topicconf")}}, 0},
		{"profiles import broker/topicconf", pkg{m("profiles"), []string{m("broker/topicconf")}}, 1},
		{"test helper imports the CLI", pkg{m("bench/faults/faultstest"), []string{m("internal/cli")}}, 1},
		{"the command imports the CLI", pkg{m("cmd/kbench"), []string{m("internal/cli")}}, 0},
		{"broker imports bench", pkg{m("broker/cluster"), []string{m("bench")}}, 1},
		{"broker imports target", pkg{m("broker"), []string{m("target/nullbroker")}}, 1},
		{"a name that only starts alike", pkg{m("benchmarks"), []string{m("brokers")}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := importViolations([]pkg{tc.pkg}); len(got) != tc.want {
				t.Errorf("got %d violations %q, want %d", len(got), got, tc.want)
			}
		})
	}
}
