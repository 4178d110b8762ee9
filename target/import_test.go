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
	// Deps are every package it depends on, directly or not.
	Deps []string
}

// importRules are the module's layering, checked on every non-test
// package: the system under test (broker/) knows nothing of the benchmark;
// the load generator (bench/) reaches the broker packages only through this
// package; profiles are read without any broker or target code, not even
// through another package (a profile only describes runs); the CLI is a
// leaf that only the command imports.
var importRules = []struct {
	name     string
	from     string // package path prefix below the module ("" = every package)
	except   string // package path below the module exempt from the rule
	imported string // forbidden import path prefix below the module
	// transitive forbids depending on imported through other packages too,
	// not only importing it.
	transitive bool
}{
	{"bench reaches the broker only through target", "bench", "", "broker", false},
	{"profiles depend on no broker package", "profiles", "", "broker", true},
	{"profiles depend on no target package", "profiles", "", "target", true},
	{"only the command imports the CLI", "", "cmd/kbench", "internal/cli", false},
	{"the broker knows nothing of the benchmark", "broker", "", "bench", false},
	{"the broker knows nothing of its targets", "broker", "", "target", false},
	{"the broker knows nothing of profiles", "broker", "", "profiles", false},
	{"the broker knows nothing of reports", "broker", "", "reports", false},
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

// short is a package path without the module prefix.
func short(path string) string { return strings.TrimPrefix(path, module+"/") }

// importViolations lists every import that breaks a rule, and for a
// transitive rule every package with forbidden dependencies, once, with one
// import chain that leads to them.
func importViolations(pkgs []pkg) []string {
	imports := map[string][]string{}
	for _, p := range pkgs {
		imports[p.ImportPath] = p.Imports
	}
	var out []string
	for _, p := range pkgs {
		for _, r := range importRules {
			if !under(p.ImportPath, r.from) || (r.except != "" && under(p.ImportPath, r.except)) {
				continue
			}
			if r.transitive {
				var bad []string
				for _, d := range slices.Concat(p.Imports, p.Deps) {
					if under(d, r.imported) && !slices.Contains(bad, short(d)) {
						bad = append(bad, short(d))
					}
				}
				if len(bad) == 0 {
					continue
				}
				v := fmt.Sprintf("%s depends on %s", short(p.ImportPath), strings.Join(bad, ", "))
				if c := importChain(imports, p.ImportPath, r.imported); c != nil {
					v += " through " + strings.Join(c, " -> ")
				}
				out = append(out, fmt.Sprintf("%s (%s)", v, r.name))
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

// importChain is a shortest chain of imports from the package from to a
// package under rel, so a transitive violation says where to cut; nil if
// the graph does not show one.
func importChain(imports map[string][]string, from, rel string) []string {
	prev := map[string]string{from: ""}
	for queue := []string{from}; len(queue) > 0; queue = queue[1:] {
		p := queue[0]
		if p != from && under(p, rel) {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append(chain, short(p))
			}
			slices.Reverse(chain)
			return chain
		}
		for _, imp := range imports[p] {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...")
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
	i := slices.IndexFunc(pkgs, func(p pkg) bool { return p.ImportPath == module+"/target" })
	if i < 0 || len(pkgs) < 20 {
		t.Fatalf("go list found %d packages, without this one: not the module", len(pkgs))
	}
	// The transitive rules read Deps: go list must have filled them in.
	if !slices.Contains(pkgs[i].Deps, module+"/broker/storage") {
		t.Fatalf("go list says target depends on %q, without broker/storage", pkgs[i].Deps)
	}
	for _, r := range importRules {
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return under(p.ImportPath, r.from) }) {
			t.Errorf("rule %q: no package under %s", r.name, r.from)
		}
	}
	for _, v := range importViolations(pkgs) {
		t.Error(v)
	}
}

// The checker itself: each rule catches a graph that breaks it, and lets
// through the imports the layering allows.
func TestImportViolations(t *testing.T) {
	m := func(rel string) string { return module + "/" + rel }
	ms := func(rels ...string) []string {
		out := make([]string, len(rels))
		for i, r := range rels {
			out[i] = m(r)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		pkgs  []pkg // the package checked first, then the rest of its graph
		want  int
		chain string // in the first violation, when set
	}{
		{"bench imports broker", []pkg{{m("bench"), ms("broker"), nil}}, 1, ""},
		{"bench subpackage imports broker subpackage", []pkg{{m("bench/faults"), ms("broker/cluster"), nil}}, 1, ""},
		{"bench imports target", []pkg{{m("bench/sweep"), []string{m("target"), "fmt"}, nil}}, 0, ""},
		{"target imports broker", []pkg{{m("target"), ms("broker", "broker/cluster"), nil}}, 0, ""},
		{"profiles import internal/topicconf", []pkg{{m("profiles"), ms("internal/topicconf"), nil}}, 0, ""},
		{"profiles import broker/topicconf", []pkg{{m("profiles"), ms("broker/topicconf"), nil}}, 1, ""},
		{"test helper imports the CLI", []pkg{{m("bench/faults/faultstest"), ms("internal/cli"), nil}}, 1, ""},
		{"the command imports the CLI", []pkg{{m("cmd/kbench"), ms("internal/cli"), nil}}, 0, ""},
		{"broker imports bench", []pkg{{m("broker/cluster"), ms("bench"), nil}}, 1, ""},
		{"broker imports target", []pkg{{m("broker"), ms("target/nullbroker"), nil}}, 1, ""},
		{"a name that only starts alike", []pkg{{m("benchmarks"), ms("brokers"), nil}}, 0, ""},
		// Transitive rules. A schedule type next to the code that runs it
		// drags the cluster into the profile loader: one violation per
		// rule, naming the chain to cut.
		{"profiles reach the broker through a fault runner", []pkg{
			{m("profiles"), ms("bench/faults", "internal/units"), ms("bench/faults", "internal/units", "target", "broker", "broker/cluster", "broker/storage")},
			{m("bench/faults"), ms("target", "internal/units"), ms("target", "internal/units", "broker", "broker/cluster", "broker/storage")},
			{m("target"), ms("broker", "broker/cluster"), ms("broker", "broker/cluster", "broker/storage")},
		}, 2, "profiles -> bench/faults -> target -> broker"},
		{"profiles reach the broker through an internal package", []pkg{
			{m("profiles"), ms("internal/topicconf"), ms("internal/topicconf", "broker/wire")},
			{m("internal/topicconf"), ms("broker/wire"), ms("broker/wire")},
		}, 1, "profiles -> internal/topicconf -> broker/wire"},
		{"profiles subpackage depends on the null broker", []pkg{
			{m("profiles/omb"), ms("target/nullbroker"), ms("target/nullbroker", "broker/wire")},
			{m("target/nullbroker"), ms("broker/wire"), ms("broker/wire")},
		}, 2, "profiles/omb -> target/nullbroker -> broker/wire"},
		{"profiles depend on the schedule, the runner apart", []pkg{
			{m("profiles"), ms("bench/faults", "bench"), ms("bench/faults", "bench", "internal/units")},
			{m("bench/faults"), ms("internal/units"), ms("internal/units")},
			{m("bench/faults/inject"), ms("bench/faults", "target"), ms("bench/faults", "target", "broker")},
		}, 0, ""},
		{"profiles depend on names that only start alike", []pkg{
			{m("profiles"), ms("brokers"), ms("brokers", "targets", "targetsx/broker")},
		}, 0, ""},
		{"a dependency the graph does not lead to", []pkg{{m("profiles"), nil, ms("broker/records")}}, 1, ""},
		{"another package may depend on the broker", []pkg{
			{m("reports"), ms("bench/sweep"), ms("bench/sweep", "target", "broker")},
			{m("bench/sweep"), ms("target"), ms("target", "broker")},
		}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := importViolations(tc.pkgs)
			if len(got) != tc.want {
				t.Fatalf("got %d violations %q, want %d", len(got), got, tc.want)
			}
			if tc.chain != "" && !strings.Contains(got[0], " through "+tc.chain+" (") {
				t.Errorf("got %q, want the chain %s", got[0], tc.chain)
			}
		})
	}
}
