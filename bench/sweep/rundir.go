package sweep

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/audit"
	"github.com/kbench/kbench/bench/faults/inject"
	"github.com/kbench/kbench/internal/atomicfile"
	"github.com/kbench/kbench/profiles"
)

// SchemaVersion is written in every manifest and result line; readers
// reject versions they do not know.
const SchemaVersion = 1

// File names inside a run directory.
const (
	ManifestFile = "manifest.json"
	ResultsFile  = "results.jsonl"
	ProfileFile  = "profile.yaml"
	HlogDir      = "hlog"
	AuditDir     = "audit"
	BrokerLogDir = "broker"
)

// Run statuses in the manifest.
const (
	StatusRunning     = "running"
	StatusInterrupted = "interrupted"
	StatusDone        = "done"
)

// Manifest describes a sweep run: what ran, where, with which software.
type Manifest struct {
	Schema  int    `json:"schema"`
	Kbench  string `json:"kbench_version"`
	Commit  string `json:"git_commit,omitempty"`
	Dirty   bool   `json:"git_dirty,omitempty"`
	Go      string `json:"go_version"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	CPUs    int    `json:"cpus"`
	MaxProc int    `json:"gomaxprocs"`
	// CPUModel and the cluster facts come from the first finished run.
	CPUModel string    `json:"cpu_model,omitempty"`
	Hostname string    `json:"hostname"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Status   string    `json:"status"`
	// Sessions counts how often the run was started (1 + resumes).
	Sessions int `json:"sessions"`

	// Target says what the sweep runs against; Cluster is the first
	// finished run's view of it (broker version, API versions, cluster id).
	Target  string          `json:"target"`
	Cluster *bench.Manifest `json:"cluster,omitempty"`

	Points    int               `json:"points"`
	Done      int               `json:"points_done"`
	Failed    int               `json:"points_failed"`
	Estimated profiles.Duration `json:"estimated"`
	Elapsed   profiles.Duration `json:"elapsed"`

	// Profile is the resolved profile, points included; a resume runs it
	// as recorded here, whatever the YAML file says by then.
	Profile *profiles.Profile `json:"profile"`
}

// Line is one point's record in results.jsonl.
type Line struct {
	Schema  int            `json:"schema"`
	Profile string         `json:"profile"`
	Point   profiles.Point `json:"point"`
	// Status is done or failed; interrupted points are not written.
	Status  string        `json:"status"`
	Error   string        `json:"error,omitempty"`
	Started time.Time     `json:"started"`
	Elapsed bench.Seconds `json:"elapsed_s"`

	// SLO is the verdict: every counted run met it (a search counts the
	// run at the rate it found).
	SLO Verdict `json:"slo"`
	// Valid is set when every counted run was valid by the generator's own
	// checks; Invalid lists why not, prefixed with the run's name.
	Valid   bool     `json:"valid"`
	Invalid []string `json:"invalid_reasons,omitempty"`

	// Figures are the counted runs' key figures: median, min, max, spread.
	Figures map[string]Stat `json:"figures,omitempty"`
	// Search holds one result per repetition of a max-sustainable point.
	Search []SearchResult `json:"search,omitempty"`
	// Runs lists every run of the point: repetitions, probes, calibrations.
	Runs []RunSummary `json:"runs,omitempty"`
	// Result is the representative run in full: the counted run whose
	// headline figure is the median. Hlog is its histogram log.
	Result *bench.Result `json:"result,omitempty"`
	Hlog   string        `json:"hlog,omitempty"`
	// Audit is that run's durability audit, when the profile asks for one.
	Audit *audit.Report `json:"audit,omitempty"`
	// Outcomes are a frontier point's fault scenarios, one per scenario
	// and repetition.
	Outcomes []Outcome `json:"outcomes,omitempty"`
}

// Point statuses.
const (
	PointDone   = "done"
	PointFailed = "failed"
)

// RunSummary is one load-generator run of a point.
type RunSummary struct {
	Name     string  `json:"name"`   // r1, r2, ... or r1-probe03
	Repeat   int     `json:"repeat"` // 1-based
	Target   float64 `json:"target_rate"`
	Achieved float64 `json:"achieved_rate"`
	// Counted runs make up the point's figures.
	Counted bool `json:"counted"`
	// Figures hold the run's key figures (the same names as Line.Figures).
	Figures map[string]float64 `json:"figures"`
	SLO     Verdict            `json:"slo"`
	Valid   bool               `json:"valid"`
	Invalid []string           `json:"invalid_reasons,omitempty"`
	Hlog    string             `json:"hlog"`
	// Phase is a frontier point's run phase (capacity, steady, fault) and
	// Scenario a fault run's scenario; empty otherwise.
	Phase    string `json:"phase,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	// Faults and Audit are the run's fault record and durability audit,
	// when the profile has faults or audit: true.
	Faults *inject.Report `json:"faults,omitempty"`
	Audit  *audit.Report  `json:"audit,omitempty"`
}

// newManifest fills what is known before any run.
func newManifest(p *profiles.Profile, version, target string, est time.Duration) *Manifest {
	host, _ := os.Hostname()
	m := &Manifest{
		Schema: SchemaVersion, Kbench: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), MaxProc: runtime.GOMAXPROCS(0), Hostname: host,
		Created: time.Now(), Status: StatusRunning, Target: target,
		Points: len(p.Points), Estimated: profiles.Duration(est), Profile: p,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.Commit = s.Value
			case "vcs.modified":
				m.Dirty = s.Value == "true"
			}
		}
	}
	if m.Commit == "" {
		// Built without VCS stamping (make passes git describe as the
		// version instead): take the commit from the version.
		if g := describeRe.FindStringSubmatch(version); g != nil {
			m.Commit, m.Dirty = g[1], g[2] != ""
		}
	}
	return m
}

// describeRe matches `git describe --always --dirty` output: a bare hash,
// or tag-N-g<hash>, optionally -dirty.
var describeRe = regexp.MustCompile(`(?:^|-g)([0-9a-f]{7,40})(-dirty)?$`)

func writeManifest(dir string, m *Manifest) error {
	m.Updated = time.Now()
	if err := atomicfile.WriteJSON(filepath.Join(dir, ManifestFile), m, true); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}

// ReadManifest reads a run directory's manifest.
func ReadManifest(dir string) (*Manifest, error) { return readManifest(dir, true) }

// readManifest reads a manifest; a session's may have no points yet.
func readManifest(dir string, needPoints bool) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Schema != SchemaVersion {
		return nil, fmt.Errorf("%s: schema %d, this kbench reads %d", filepath.Join(dir, ManifestFile), m.Schema, SchemaVersion)
	}
	if m.Profile == nil || (needPoints && len(m.Profile.Points) == 0) {
		return nil, fmt.Errorf("%s: no profile recorded", filepath.Join(dir, ManifestFile))
	}
	return &m, nil
}

// ReadResults reads results.jsonl. A torn last line (a crash mid-write) is
// dropped and reported through torn; any other bad line is an error.
func ReadResults(r io.Reader) (lines []Line, torn bool, err error) {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		raw, rerr := br.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			var l Line
			if err := json.Unmarshal(raw, &l); err != nil {
				if rerr == io.EOF && !bytes.HasSuffix(raw, []byte("\n")) {
					return lines, true, nil
				}
				return lines, false, fmt.Errorf("results line %d: %w", n, err)
			}
			if l.Schema != SchemaVersion {
				return lines, false, fmt.Errorf("results line %d: schema %d, this kbench reads %d", n, l.Schema, SchemaVersion)
			}
			lines = append(lines, l)
		}
		if rerr == io.EOF {
			return lines, false, nil
		}
		if rerr != nil {
			return lines, false, fmt.Errorf("read results: %w", rerr)
		}
	}
}

// ReadResultsFile reads a run directory's results.jsonl (none yet is fine).
func ReadResultsFile(dir string) ([]Line, bool, error) {
	f, err := os.Open(filepath.Join(dir, ResultsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open results: %w", err)
	}
	defer f.Close()
	return ReadResults(f)
}

// resultsWriter appends lines, each synced, so a finished point survives a
// crash or Ctrl-C right after it.
type resultsWriter struct {
	f *os.File
}

func openResults(dir string) (*resultsWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, ResultsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	return &resultsWriter{f: f}, nil
}

func (w *resultsWriter) write(l *Line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode result line: %w", err)
	}
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync results: %w", err)
	}
	return nil
}

func (w *resultsWriter) close() error { return w.f.Close() }

// rewriteResults replaces results.jsonl with lines (dropping a torn tail or
// lines to run again).
func rewriteResults(dir string, lines []Line) error {
	var buf bytes.Buffer
	for i := range lines {
		b, err := json.Marshal(&lines[i])
		if err != nil {
			return fmt.Errorf("encode result line: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := atomicfile.Write(filepath.Join(dir, ResultsFile), buf.Bytes(), true); err != nil {
		return fmt.Errorf("rewrite results: %w", err)
	}
	return nil
}
