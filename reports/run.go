package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/bench/tune"
	"github.com/kbench/kbench/profiles"
)

// Run is a sweep's run directory as the reports read it: every point of
// the recorded profile, finished or not, in sweep order.
type Run struct {
	Dir      string
	Manifest *sweep.Manifest
	Points   []*Point
	// Torn is set when results.jsonl ended in a half-written line (a crash
	// mid-write); that point counts as not run.
	Torn bool
	// Strays are result lines whose point is not in the recorded profile.
	Strays int
	// Tune is the search's record when the run is a kbench tune (nil
	// otherwise).
	Tune *tune.File
}

// Point is one point of the profile and, once it ran, its result line.
type Point struct {
	Def profiles.Point
	// Line is nil when the point has not run (an interrupted sweep).
	Line *sweep.Line
	Set  Settings
	// Audit is the durability audit's verdict on the point, when the sweep
	// recorded one.
	Audit *AuditFigures
}

// AuditFigures are the durability audit's figures for a point (the audit
// report's JSON field names; unknown fields are ignored).
type AuditFigures struct {
	Acknowledged   int64         `json:"acknowledged"`
	Readable       int64         `json:"readable"`
	Lost           int64         `json:"lost"`
	Duplicated     int64         `json:"duplicated"`
	UnackedPresent int64         `json:"unacknowledged_present"`
	Unavailability bench.Seconds `json:"unavailability_s"`
}

// Settings are the settings a point ran with, defaults resolved where the
// run recorded them, so points can be grouped and compared whatever the
// profile's axes were called.
type Settings struct {
	Acks        string // "0", "1", "all"
	Idempotence string // "true", "false", "" when unknown
	LingerMs    int    // -1 when unknown
	BatchBytes  int    // 0 when unknown
	Codec       string
	RF          int
	MinISR      int // topic min.insync.replicas; 1 (the broker default) when unset
	Partitions  int
	Producers   int
	Consumers   int
	RecordSize  string
	Payload     string
	Compress    float64 // workload compressibility
	Mode        string
	RateKind    profiles.RateKind
	Rate        float64 // records/s, fixed rates only
	Brokers     int
}

// Durability names the point's durability level: acks × RF × min.insync.
func (s Settings) Durability() string {
	return fmt.Sprintf("acks=%s RF=%d min.insync=%d", s.Acks, s.RF, s.MinISR)
}

// RateText writes the rate as the profile would.
func (s Settings) RateText() string {
	if s.RateKind == profiles.RateFixed {
		return formatCount(s.Rate) + "/s"
	}
	return string(s.RateKind)
}

// without returns the settings as a comparable key with the named fields
// blanked: points whose keys match differ only in those fields.
func (s Settings) without(names ...string) string {
	for _, n := range names {
		switch n {
		case "acks":
			s.Acks = ""
		case "enable.idempotence":
			s.Idempotence = ""
		case "linger.ms":
			s.LingerMs = -2
		case "batch.size":
			s.BatchBytes = -2
		case "compression.type":
			s.Codec = ""
		case "replication.factor":
			s.RF = -2
		case "min.insync.replicas":
			s.MinISR = -2
		case "partitions":
			s.Partitions = -2
		case "producers":
			s.Producers = -2
		case "consumers":
			s.Consumers = -2
		case "rate":
			s.RateKind, s.Rate = "", -2
		case "brokers":
			s.Brokers = -2
		default:
			panic("reports: unknown setting " + n)
		}
	}
	return fmt.Sprintf("%+v", s)
}

// settingsOf resolves a point's settings: the producer properties the run
// actually used when it recorded them, else the profile's.
func settingsOf(def *profiles.Point, line *sweep.Line) Settings {
	prod := map[string]string{}
	for k, v := range def.Producer {
		prod[k] = v
	}
	if line != nil && line.Result != nil {
		for k, v := range line.Result.EffectiveProducer {
			prod[k] = v
		}
	}
	s := Settings{
		Acks: prod["acks"], Idempotence: prod["enable.idempotence"], Codec: prod["compression.type"],
		LingerMs: -1, RF: int(def.Topic.ReplicationFactor), MinISR: 1, Partitions: int(def.Topic.Partitions),
		Producers: def.Producers, Consumers: def.Consumers, RecordSize: def.Workload.RecordSize,
		Payload: def.Workload.Payload, Compress: def.Workload.Compressibility, Mode: string(def.Mode),
		RateKind: def.Rate.Kind, Rate: def.Rate.PerSec, Brokers: def.Brokers,
	}
	// Kafka's producer defaults since 3.0 (what the load generator uses
	// when nothing is set): acks=all, idempotence on, no compression.
	if s.Acks == "" {
		s.Acks = "all"
	}
	if s.Acks == "-1" {
		s.Acks = "all"
	}
	if s.Codec == "" {
		s.Codec = "none"
	}
	if v, err := strconv.Atoi(prod["linger.ms"]); err == nil {
		s.LingerMs = v
	}
	if v, err := strconv.Atoi(prod["batch.size"]); err == nil {
		s.BatchBytes = v
	}
	if v, err := strconv.Atoi(def.Topic.Configs["min.insync.replicas"]); err == nil {
		s.MinISR = v
	}
	if line != nil && line.Result != nil && line.Result.Partitions > 0 {
		s.Partitions = int(line.Result.Partitions)
	}
	return s
}

// LoadRun reads a run directory: manifest.json, results.jsonl and any
// durability audit recorded in the lines. A run still going or cut short is
// read as far as it got.
func LoadRun(dir string) (*Run, error) {
	m, err := sweep.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, sweep.ResultsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read results: %w", err)
	}
	lines, torn, err := sweep.ReadResults(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, sweep.ResultsFile), err)
	}
	audits, err := readAudits(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, sweep.ResultsFile), err)
	}
	r := &Run{Dir: dir, Manifest: m, Torn: torn}
	if r.Tune, err = tune.ReadFile(dir); errors.Is(err, os.ErrNotExist) {
		r.Tune = nil
	} else if err != nil {
		return nil, err
	}
	byID := map[string]*Point{}
	for i := range m.Profile.Points {
		p := &Point{Def: m.Profile.Points[i]}
		r.Points = append(r.Points, p)
		byID[p.Def.ID] = p
	}
	for i := range lines {
		l := &lines[i]
		p := byID[l.Point.ID]
		if p == nil || p.Def.Label != l.Point.Label {
			r.Strays++
			continue
		}
		// A resumed --retry-failed run appends the retry after the
		// failure: the later line wins.
		p.Line = l
		p.Audit = audits[l.Point.ID]
	}
	for _, p := range r.Points {
		p.Set = settingsOf(&p.Def, p.Line)
	}
	return r, nil
}

// readAudits finds the "audit" object of each result line, keyed by point
// id, so the report needs nothing from the audit package but its JSON.
func readAudits(raw []byte) (map[string]*AuditFigures, error) {
	out := map[string]*AuditFigures{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<30)
	for sc.Scan() {
		var l struct {
			Point struct {
				ID string `json:"id"`
			} `json:"point"`
			Audit *AuditFigures `json:"audit"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // a torn line: ReadResults has judged it already
		}
		if l.Audit != nil {
			out[l.Point.ID] = l.Audit
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan results for audits: %w", err)
	}
	return out, nil
}

// Done reports whether the point finished without failing.
func (p *Point) Done() bool { return p.Line != nil && p.Line.Status == sweep.PointDone }

// Failed reports whether the point ran and failed.
func (p *Point) Failed() bool { return p.Line != nil && p.Line.Status == sweep.PointFailed }

// Valid reports whether the point finished and every counted run passed
// the generator's own checks.
func (p *Point) Valid() bool { return p.Done() && p.Line.Valid }

// Passed reports whether the point met the SLO.
func (p *Point) Passed() bool { return p.Done() && p.Line.SLO.Pass }

// Fig returns the median of a figure over the counted runs.
func (p *Point) Fig(name string) (float64, bool) {
	if p.Line == nil {
		return 0, false
	}
	st, ok := p.Line.Figures[name]
	if !ok || st.N == 0 {
		return 0, false
	}
	return st.Median, true
}

// Name is the point's id and label, as tables and captions show it.
func (p *Point) Name() string { return p.Def.ID + " " + p.Def.Label }

// formatCount writes 5000 as 5k, 1500000 as 1.5M, keeping small numbers.
func formatCount(v float64) string {
	switch {
	case v >= 1e6 && v == float64(int64(v/1e4))*1e4:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3 && v == float64(int64(v/10))*10:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// sizeLabel writes a byte count the way profiles do: 16KiB, 1MiB.
func sizeLabel(n int) string {
	if n <= 0 {
		return "?"
	}
	return codecSizeLabel(n)
}

// slug makes a file-name-safe string.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
