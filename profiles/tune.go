package profiles

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Tune is a profile's tune section: how kbench tune searches the profile.
// Other commands ignore it. Zero fields leave kbench tune's defaults (and
// its flags override every field).
type Tune struct {
	// Budget bounds the time spent measuring.
	Budget Duration `json:"budget,omitempty"`
	// MaxRuns bounds the measurements, the final confirmations included.
	MaxRuns int `json:"max_runs,omitempty"`
	// Noise is the prior relative noise of one measurement (its standard
	// deviation as a share of the value), until repeats measure it.
	Noise float64 `json:"noise,omitempty"`
	// MaxRepeats bounds the measurements of one candidate while the
	// search settles close calls.
	MaxRepeats int `json:"max_repeats,omitempty"`
	// Confirm is how often the recommendation and the baselines are
	// measured at the end, for the gains' intervals.
	Confirm int `json:"confirm,omitempty"`
	// Space is what the tune searches in place of the profile's axes: one
	// setting per item, written as kbench tune's --space flag takes it.
	Space []SpaceAxis `json:"space,omitempty"`
}

// SpaceAxis is one setting a tune searches and its values as written.
type SpaceAxis struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// String writes the axis as --space takes it.
func (a SpaceAxis) String() string { return a.Name + "=" + strings.Join(a.Values, ",") }

// spaceAliases are short names a space accepts for long settings.
var spaceAliases = map[string]string{"max.in.flight": "max.in.flight.requests.per.connection"}

// ParseSpaceItem reads one search-space item, SETTING=V1,V2,... (the
// grammar of kbench tune --space and of tune.space). SETTING may be
// max.in.flight for max.in.flight.requests.per.connection. Only the shape
// is checked here; the values are checked against the profile when it
// loads them.
func ParseSpaceItem(item string) (SpaceAxis, error) {
	name, vals, ok := strings.Cut(item, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(vals) == "" {
		return SpaceAxis{}, fmt.Errorf("want SETTING=V1,V2,... (linger.ms=0,5,20 or compression=lz4,zstd:3)")
	}
	if long, ok := spaceAliases[name]; ok {
		name = long
	}
	a := SpaceAxis{Name: name}
	for _, v := range strings.Split(vals, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return SpaceAxis{}, fmt.Errorf("an empty value")
		}
		a.Values = append(a.Values, v)
	}
	return a, nil
}

type rawTune struct {
	Budget     yaml.Node `yaml:"budget"`
	MaxRuns    yaml.Node `yaml:"max_runs"`
	Noise      yaml.Node `yaml:"noise"`
	MaxRepeats yaml.Node `yaml:"max_repeats"`
	Confirm    yaml.Node `yaml:"confirm"`
	Space      yaml.Node `yaml:"space"`
}

// tune reads and checks the tune section. Each space value is checked as
// an axis value is: applied to the base, with the load generator's check.
func (p *parser) tune(prof *Profile, rt *rawTune) {
	if rt == nil {
		return
	}
	t := &Tune{}
	p.duration(&rt.Budget, "tune.budget", time.Second, &t.Budget)
	p.count(&rt.MaxRuns, "tune.max_runs", 1, 100000, &t.MaxRuns)
	p.count(&rt.MaxRepeats, "tune.max_repeats", 1, 100, &t.MaxRepeats)
	p.count(&rt.Confirm, "tune.confirm", 1, 100, &t.Confirm)
	if present(&rt.Noise) {
		if v, ok := p.scalar(&rt.Noise, "tune.noise"); ok {
			if f, err := parseShare(v); err != nil || f <= 0 || f > 1 {
				p.errorf(&rt.Noise, "tune.noise", "%q: want the relative noise of one measurement in (0, 1], or as a percentage (10%%)", v)
			} else {
				t.Noise = f
			}
		}
	}
	if present(&rt.Space) {
		t.Space = p.tuneSpace(prof, resolve(&rt.Space))
	}
	prof.Tune = t
}

func (p *parser) tuneSpace(prof *Profile, n *yaml.Node) []SpaceAxis {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "tune.space", "got %s, want a list of SETTING=V1,V2,... like - linger.ms=0,5,20", describeNode(n))
		return nil
	}
	var out []SpaceAxis
	for i, item := range n.Content {
		item = resolve(item)
		path := fmt.Sprintf("tune.space[%d]", i)
		v, ok := p.scalar(item, path)
		if !ok {
			continue
		}
		a, err := ParseSpaceItem(v)
		if err != nil {
			p.errorf(item, path, "%q: %v", v, err)
			continue
		}
		path += "." + a.Name
		if !p.sweepable(item, path, a.Name) {
			continue
		}
		if slices.ContainsFunc(out, func(o SpaceAxis) bool { return o.Name == a.Name }) {
			p.errorf(item, path, "%s is given twice", a.Name)
			continue
		}
		good, seen := true, map[string]string{}
		for j, val := range a.Values {
			pt := prof.Base.clone()
			vn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val, Line: item.Line}
			vpath := fmt.Sprintf("%s[%d]", path, j)
			_, norm, ok := p.set(&pt, a.Name, vn, vpath)
			if !ok {
				good = false
				continue
			}
			if first, dup := seen[norm]; dup {
				p.errorf(item, vpath, "%s is already in the list as %s", val, first)
				good = false
				continue
			}
			seen[norm] = val
			if err := p.chk.run(pt.RunConfig(pt.Rate.PerSec)); err != nil {
				p.errorf(item, vpath, "with the profile's other settings: %v", err)
				good = false
			}
		}
		if good {
			out = append(out, a)
		}
	}
	return out
}
