package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/sweep"
)

// Side is one side of a comparison: a sweep run directory (every finished
// point) or result files of `kbench produce/e2e --json` (one point whose
// runs are the files).
type Side struct {
	Path   string
	Points []*SidePoint
}

// SidePoint is one point's counted runs, as per-run figures.
type SidePoint struct {
	Key     string // the point's settings as the profile set them: how points are matched
	Name    string
	Runs    []map[string]float64
	Invalid []string // why runs were invalid, prefixed with the run
}

// LoadSide reads a sweep run directory, or a comma-separated list of
// result JSON files (or patterns such as out/A-*.json) taken as repeated
// runs of one point.
func LoadSide(path string) (*Side, error) {
	st, err := os.Stat(path)
	if err == nil && st.IsDir() {
		return loadSweepSide(path)
	}
	var files []string
	for _, part := range strings.Split(path, ",") {
		m, err := filepath.Glob(part)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", part, err)
		}
		if len(m) == 0 { // not a pattern, or one matching nothing: the read says which
			m = []string{part}
		}
		files = append(files, m...)
	}
	s := &Side{Path: path}
	p := &SidePoint{}
	for i, file := range files {
		res, err := bench.ReadResult(file)
		if err != nil {
			return nil, err
		}
		p.Runs = append(p.Runs, sweep.RunFigures(res))
		for _, why := range res.Invalid {
			p.Invalid = append(p.Invalid, fmt.Sprintf("run %d (%s): %s", i+1, filepath.Base(file), why))
		}
	}
	s.Points = []*SidePoint{p}
	return s, nil
}

func loadSweepSide(dir string) (*Side, error) {
	if _, err := os.Stat(filepath.Join(dir, sweep.ManifestFile)); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: not a sweep run directory (no %s)", dir, sweep.ManifestFile)
	}
	run, err := LoadRun(dir)
	if err != nil {
		return nil, err
	}
	s := &Side{Path: dir}
	seen := map[string]bool{}
	for _, p := range run.Points {
		if !p.Done() {
			continue
		}
		// The profile's settings, not the run's resolved ones: a point
		// whose runs all failed records no resolved settings.
		sp := &SidePoint{Key: fmt.Sprintf("%+v", settingsOf(&p.Def, nil)), Name: p.Name()}
		if seen[sp.Key] { // same settings twice in one profile: the label tells them apart
			sp.Key += "|" + p.Def.Label
		}
		seen[sp.Key] = true
		sp.Runs = countedRuns(p)
		// A max-sustainable point's result is one rate per repetition's
		// search, found or not (0).
		for _, sr := range p.Line.Search {
			sp.Runs = append(sp.Runs, map[string]float64{"max_sustainable_rate": sr.Found})
		}
		sp.Invalid = p.Line.Invalid
		s.Points = append(s.Points, sp)
	}
	return s, nil
}

// Match pairs the points of a and b with the same settings, in a's order,
// and lists the points only one side has.
func Match(a, b *Side) (pairs [][2]*SidePoint, onlyA, onlyB []*SidePoint) {
	byKey := map[string]*SidePoint{}
	for _, p := range b.Points {
		byKey[p.Key] = p
	}
	used := map[*SidePoint]bool{}
	for _, p := range a.Points {
		if q := byKey[p.Key]; q != nil {
			pairs = append(pairs, [2]*SidePoint{p, q})
			used[q] = true
		} else {
			onlyA = append(onlyA, p)
		}
	}
	for _, q := range b.Points {
		if !used[q] {
			onlyB = append(onlyB, q)
		}
	}
	return pairs, onlyA, onlyB
}

// countedRuns are the per-run figures of a finished point's counted runs
// (its repetitions).
func countedRuns(p *Point) []map[string]float64 {
	var out []map[string]float64
	for _, r := range p.Line.Runs {
		if r.Counted {
			out = append(out, r.Figures)
		}
	}
	return out
}
