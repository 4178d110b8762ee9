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

// ParseSpace reads --space items, SETTING=V1,V2,... each (the grammar of
// a profile's tune.space): every named setting replaces that axis of the
// space (one value fixes the setting), others keep theirs. An item that
// is not SETTING=VALUES is an error naming it.
func ParseSpace(items []string) ([]profiles.SpaceAxis, error) {
	var out []profiles.SpaceAxis
	for _, item := range items {
		a, err := profiles.ParseSpaceItem(item)
		if err != nil {
			return nil, fmt.Errorf("--space %q: %w", item, err)
		}
		if slices.ContainsFunc(out, func(o profiles.SpaceAxis) bool { return o.Name == a.Name }) {
			return nil, fmt.Errorf("--space %q: %s is given twice", item, a.Name)
		}
		out = append(out, a)
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

// Prepare loads the profile with the overrides and makes the space: the
// profile's tune.space, else its axes, with the --space axes replacing or
// adding axes; the profile's own settings and Kafka's defaults join it
// where missing, so the gain against both is measured. The grid's points
// are checked one by one only as they run.
func Prepare(profile string, set []string, space []profiles.SpaceAxis) (*Prepared, error) {
	p, err := profiles.LoadWith(profile, profiles.Options{Set: set, PointsUnchecked: true})
	if err != nil {
		return nil, err
	}
	axes := map[string]string{}
	from := map[string]string{} // where an axis came from, for errors
	var order []string
	add := func(a profiles.SpaceAxis, where string) {
		if _, ok := axes[a.Name]; !ok {
			order = append(order, a.Name)
		}
		var quoted []string
		for _, v := range a.Values {
			quoted = append(quoted, strconv.Quote(v))
		}
		axes[a.Name], from[a.Name] = "["+strings.Join(quoted, ", ")+"]", where
	}
	if p.Tune != nil && len(p.Tune.Space) > 0 {
		for _, item := range set {
			if strings.HasPrefix(item, "axes.") || strings.HasPrefix(item, "axes=") {
				return nil, fmt.Errorf("--set %s: profile %s has a tune.space, which tune searches instead of its axes; give --space SETTING=V1,V2 (or --set 'tune.space=[...]')", item, p.Name)
			}
		}
		for _, a := range p.Tune.Space {
			add(a, "tune.space "+a.Name)
		}
	} else {
		for _, a := range p.Axes {
			sa := profiles.SpaceAxis{Name: a.Name}
			for _, v := range a.Values {
				if len(v) != 1 {
					return nil, fmt.Errorf("profile %s: axis %s sets several settings together; tune searches one setting per axis (give tune.space or --space)", p.Name, a.Name)
				}
				sa.Values = append(sa.Values, v[0].Written)
			}
			add(sa, "axes."+a.Name)
		}
	}
	for _, a := range space {
		add(a, "--space "+a.Name)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("profile %s has no tune.space, no axes and no --space was given: nothing to search", p.Name)
	}
	// The space replaces the profile's axes.
	load := func() (*profiles.Profile, error) {
		s := append(slices.Clone(set), "axes={}")
		for _, name := range order {
			s = append(s, "axes."+name+"="+axes[name])
		}
		return profiles.LoadWith(profile, profiles.Options{Set: s, PointsUnchecked: true})
	}
	if p, err = load(); err != nil {
		// Name the space item rather than the override it became.
		for _, name := range order {
			prefix := "--set axes." + name + "=" + axes[name] + ": "
			if msg, ok := strings.CutPrefix(err.Error(), prefix); ok {
				return nil, fmt.Errorf("%s: %s", from[name], msg)
			}
		}
		return nil, fmt.Errorf("search space: %w", err)
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
