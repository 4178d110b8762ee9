package tune

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/profiles"
)

// DefaultProfile is the built-in profile tune starts from: the durability
// floor, a workload and the default space as its axes.
const DefaultProfile = "tune"

// aliases are short names --space accepts for long settings.
var aliases = map[string]string{"max.in.flight": "max.in.flight.requests.per.connection"}

// ParseSpace reads --space items, NAME=V1,V2,... each, into YAML axes for
// a profile override: every named setting replaces that axis of the
// profile's space (one value fixes the setting), others keep theirs. An
// item that is not NAME=VALUES is an error naming it.
func ParseSpace(items []string) ([][2]string, error) {
	var out [][2]string
	for _, item := range items {
		name, vals, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.TrimSpace(vals) == "" {
			return nil, fmt.Errorf("--space %q: want SETTING=V1,V2,... (linger.ms=0,5,20 or compression=lz4,zstd:3)", item)
		}
		if long, ok := aliases[name]; ok {
			name = long
		}
		var quoted []string
		for _, v := range strings.Split(vals, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				return nil, fmt.Errorf("--space %q: an empty value", item)
			}
			quoted = append(quoted, strconv.Quote(v))
		}
		for _, o := range out {
			if o[0] == name {
				return nil, fmt.Errorf("--space %q: %s is given twice", item, name)
			}
		}
		out = append(out, [2]string{name, "[" + strings.Join(quoted, ", ") + "]"})
	}
	return out, nil
}

// Prepared is a tune's grid: the profile expanded over the space (one point
// per candidate), the space, and where the search starts.
type Prepared struct {
	Grid  *profiles.Profile
	Space Space
	// Start is the profile's own settings, Defaults Kafka's producer
	// defaults; both are in the space (added to it when missing).
	Start, Defaults []int
	// points maps a candidate's key to its grid point.
	points map[string]int
}

// Prepare loads the profile with the overrides and the --space axes and
// makes its axes the space, adding the profile's own settings and Kafka's
// defaults to it where missing, so the gain against both is measured.
func Prepare(profile string, set []string, space [][2]string) (*Prepared, error) {
	axes := map[string]string{}
	var order []string
	load := func() (*profiles.Profile, error) {
		s := slices.Clone(set)
		for _, name := range order {
			s = append(s, "axes."+name+"="+axes[name])
		}
		return profiles.LoadWith(profile, profiles.Options{Set: s, PointsUnchecked: true})
	}
	p, err := profiles.LoadWith(profile, profiles.Options{Set: set, PointsUnchecked: true})
	if err != nil {
		return nil, err
	}
	for _, a := range p.Axes {
		order = append(order, a.Name)
		var vals []string
		for _, v := range a.Values {
			if len(v) != 1 {
				return nil, fmt.Errorf("profile %s: axis %s sets several settings together; tune searches one setting per axis", p.Name, a.Name)
			}
			vals = append(vals, strconv.Quote(v[0].Written))
		}
		axes[a.Name] = "[" + strings.Join(vals, ", ") + "]"
	}
	for _, s := range space {
		if _, ok := axes[s[0]]; !ok {
			order = append(order, s[0])
		}
		axes[s[0]] = s[1]
	}
	if p, err = load(); err != nil {
		// Name the --space item rather than the override it became.
		for _, s := range space {
			prefix := "--set axes." + s[0] + "=" + s[1] + ": "
			if msg, ok := strings.CutPrefix(err.Error(), prefix); ok {
				return nil, fmt.Errorf("--space %s: %s", s[0], msg)
			}
		}
		return nil, fmt.Errorf("search space: %w", err)
	}
	if len(p.Axes) == 0 {
		return nil, fmt.Errorf("profile %s has no axes and no --space was given: nothing to search", p.Name)
	}
	// The profile's own settings and Kafka's defaults join the space.
	added := false
	for _, a := range p.Axes {
		for _, v := range []string{baseValue(p, a.Name), kafkaDefault(a.Name)} {
			if v == "" || slices.ContainsFunc(a.Values, func(s []profiles.Setting) bool { return s[0].Value == v }) {
				continue
			}
			axes[a.Name] = strings.TrimSuffix(axes[a.Name], "]") + ", " + strconv.Quote(v) + "]"
			added = true
		}
	}
	if added {
		if p, err = load(); err != nil {
			return nil, fmt.Errorf("search space with the starting settings and Kafka's defaults: %w", err)
		}
	}
	return prepared(p)
}

// prepared builds the space from a grid profile's axes: numeric axes are
// ordered (ascending), others keep the profile's order.
func prepared(p *profiles.Profile) (*Prepared, error) {
	pr := &Prepared{Grid: p, points: map[string]int{}}
	for _, a := range p.Axes {
		d := Dim{Name: a.Name, Ordered: true}
		vals := slices.Clone(a.Values)
		for _, v := range vals {
			if _, err := strconv.ParseFloat(v[0].Value, 64); err != nil {
				d.Ordered = false
			}
		}
		if d.Ordered {
			slices.SortFunc(vals, func(x, y []profiles.Setting) int {
				a, _ := strconv.ParseFloat(x[0].Value, 64)
				b, _ := strconv.ParseFloat(y[0].Value, 64)
				return cmp.Compare(a, b)
			})
		}
		for _, v := range vals {
			d.Values = append(d.Values, v[0].Value)
			d.Written = append(d.Written, v[0].Written)
		}
		pr.Space.Dims = append(pr.Space.Dims, d)
	}
	for i := range p.Points {
		c, err := pr.candidateOf(&p.Points[i])
		if err != nil {
			return nil, err
		}
		pr.points[Key(c)] = i
	}
	var err error
	if pr.Start, err = pr.settingsCandidate(func(name string) string { return cmpOr(baseValue(p, name), kafkaDefault(name)) }); err != nil {
		return nil, err
	}
	if pr.Defaults, err = pr.settingsCandidate(kafkaDefault); err != nil {
		return nil, err
	}
	return pr, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (pr *Prepared) candidateOf(pt *profiles.Point) ([]int, error) {
	c := make([]int, len(pr.Space.Dims))
	for d, dim := range pr.Space.Dims {
		c[d] = slices.Index(dim.Values, pt.Value(dim.Name))
		if c[d] < 0 {
			return nil, fmt.Errorf("point %s has no value of %s", pt.Label, dim.Name)
		}
	}
	return c, nil
}

func (pr *Prepared) settingsCandidate(value func(string) string) ([]int, error) {
	c := make([]int, len(pr.Space.Dims))
	for d, dim := range pr.Space.Dims {
		c[d] = slices.Index(dim.Values, value(dim.Name))
		if c[d] < 0 {
			// A setting without a known default (say acks as an axis):
			// start from its first value.
			c[d] = 0
		}
	}
	if _, ok := pr.points[Key(c)]; !ok {
		return nil, errors.New("the starting settings are excluded from the space by the profile's exclude rules")
	}
	return c, nil
}

// Point is the grid point of a candidate.
func (pr *Prepared) Point(c []int) *profiles.Point {
	i, ok := pr.points[Key(c)]
	if !ok {
		return nil
	}
	return &pr.Grid.Points[i]
}

// baseValue is the profile's own value of an axis setting, normalised as
// the axis stores it; "" when the profile leaves it unset.
func baseValue(p *profiles.Profile, name string) string {
	prod := p.Base.Producer
	if name == "compression" {
		codec := prod["compression.type"]
		if codec == "" {
			return ""
		}
		if lvl := prod["compression."+codec+".level"]; lvl != "" {
			return codec + ":" + lvl
		}
		return codec
	}
	return prod[name]
}

// kafkaDefault is Apache Kafka's producer default of an axis setting; ""
// when it has none.
func kafkaDefault(name string) string {
	if name == "compression" {
		name = "compression.type"
	}
	for _, p := range bench.SupportedProperties(bench.RoleProducer) {
		if p.Name == name {
			return p.Default
		}
	}
	return ""
}
