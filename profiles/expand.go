package profiles

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// axisValue is one value of an axis: one or more settings with their nodes.
type axisValue struct {
	settings []Setting
	nodes    []*yaml.Node
	paths    []string
}

// axes reads the axes in file order, checking every value on the base.
func (p *parser) axes(prof *Profile, n *yaml.Node) {
	owner := map[string]string{} // setting → axis sweeping it
	for _, kv := range p.pairs(n, "axes") {
		name, list := kv[0].Value, resolve(kv[1])
		path := "axes." + name
		if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
			p.errorf(list, path, "got %s, want a non-empty list of values (or of groups of settings, like - {partitions: 4, producers: 2})", describeNode(list))
			continue
		}
		grouped := resolve(list.Content[0]).Kind == yaml.MappingNode
		if !grouped && !p.sweepable(kv[0], path, name) {
			continue
		}
		var vals []axisValue
		var keys []string // every setting the axis sweeps
		for i, item := range list.Content {
			item = resolve(item)
			ipath := fmt.Sprintf("%s[%d]", path, i)
			var av axisValue
			switch {
			case grouped && item.Kind == yaml.MappingNode && len(item.Content) > 0:
				// Groups may set different settings; a point whose group
				// leaves one out keeps the base value.
				good := true
				for _, gkv := range p.pairs(item, ipath) {
					if !slices.Contains(keys, gkv[0].Value) {
						keys = append(keys, gkv[0].Value)
						good = p.sweepable(gkv[0], ipath+"."+gkv[0].Value, gkv[0].Value) && good
					}
					av.add(gkv[0].Value, gkv[1], ipath+"."+gkv[0].Value)
				}
				if !good {
					continue
				}
			case !grouped && item.Kind == yaml.ScalarNode:
				av.add(name, item, ipath)
			default:
				p.errorf(item, ipath, "got %s; an axis lists single values, or groups of settings (mappings), not a mix", describeNode(item))
				continue
			}
			if p.checkAxisValue(prof, &av) {
				vals = append(vals, av)
			}
		}
		if !grouped {
			keys = []string{name}
		}
		for _, k := range keys {
			if other, dup := owner[k]; dup {
				p.errorf(kv[0], path, "%s is already swept by axes.%s; a setting may be on one axis only (use a group to move settings together)", k, other)
			}
			owner[k] = name
		}
		p.checkDuplicates(vals)
		ax := Axis{Name: name}
		for _, v := range vals {
			ax.Values = append(ax.Values, v.settings)
		}
		prof.Axes = append(prof.Axes, ax)
		p.axisVals = append(p.axisVals, vals)
	}
}

// sweepable reports (once, at the key) a name an axis cannot sweep.
func (p *parser) sweepable(key *yaml.Node, path, name string) bool {
	if slices.Contains(baseOnly, name) {
		p.errorf(key, path, "%s cannot be swept (it sets the run itself); sweepable: %s", name, settingNames())
		return false
	}
	if _, ok := lookupSetting(name); !ok {
		p.errorf(key, path, "unknown setting %q; sweepable: %s", name, settingNames())
		return false
	}
	return true
}

func (av *axisValue) add(name string, n *yaml.Node, path string) {
	av.settings = append(av.settings, Setting{Name: name})
	av.nodes = append(av.nodes, n)
	av.paths = append(av.paths, path)
}

// checkAxisValue applies the value to a copy of the base, which checks it
// and fills the normalised values.
func (p *parser) checkAxisValue(prof *Profile, av *axisValue) bool {
	pt := prof.Base.clone()
	ok := true
	for i := range av.settings {
		written, norm, good := p.set(&pt, av.settings[i].Name, av.nodes[i], av.paths[i])
		av.settings[i].Written, av.settings[i].Value = written, norm
		ok = ok && good
	}
	if ok && p.pointsUnchecked {
		// The points are not checked one by one: check the value with the
		// fixed settings at least, once, so a value that no point can
		// take (max in flight 10 with idempotence) is found here.
		if err := p.chk.run(pt.RunConfig(pt.Rate.PerSec)); err != nil {
			p.errorf(av.nodes[0], av.paths[0], "with the profile's other settings: %v", err)
			return false
		}
	}
	return ok
}

func (p *parser) checkDuplicates(vals []axisValue) {
	seen := map[string]string{}
	for _, v := range vals {
		var norm []string
		for _, s := range v.settings {
			norm = append(norm, s.Name+"="+s.Value)
		}
		key := strings.Join(norm, "/")
		if first, dup := seen[key]; dup {
			p.errorf(v.nodes[0], v.paths[0], "%s is already on the axis as %s", key, first)
			continue
		}
		seen[key] = v.paths[0]
	}
}

func describeNode(n *yaml.Node) string {
	switch {
	case !present(n):
		return "nothing"
	case n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		return "an empty list"
	}
	return kindOf(n)
}

// excludes reads the exclude rules; each names swept settings and values
// that occur on their axes.
func (p *parser) excludes(prof *Profile, n *yaml.Node) {
	if !present(n) {
		return
	}
	list := resolve(n)
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "exclude", "got %s, want a list of rules like - {linger.ms: 0, batch.size: 1MiB}", kindOf(list))
		return
	}
	swept := map[string][]Setting{} // setting → every value on its axis
	for _, ax := range prof.Axes {
		for _, group := range ax.Values {
			for _, s := range group {
				swept[s.Name] = append(swept[s.Name], s)
			}
		}
	}
	for i, item := range list.Content {
		item = resolve(item)
		path := fmt.Sprintf("exclude[%d]", i)
		if item.Kind != yaml.MappingNode || len(item.Content) == 0 {
			p.errorf(item, path, "got %s, want a mapping of swept setting: value (or [values])", describeNode(item))
			continue
		}
		rule := Rule{}
		for _, kv := range p.pairs(item, path) {
			name, kpath := kv[0].Value, path+"."+kv[0].Value
			on, ok := swept[name]
			if !ok {
				p.errorf(kv[0], kpath, "%s is not swept; swept settings: %s", name, strings.Join(sortedKeys(swept), ", "))
				continue
			}
			vals := []*yaml.Node{resolve(kv[1])}
			if vals[0].Kind == yaml.SequenceNode {
				vals = vals[0].Content
			}
			for _, vn := range vals {
				pt := prof.Base.clone()
				_, norm, good := p.set(&pt, name, vn, kpath)
				if !good {
					continue
				}
				if !slices.ContainsFunc(on, func(s Setting) bool { return s.Value == norm }) {
					var valid []string
					for _, s := range on {
						valid = append(valid, s.Written)
					}
					p.errorf(vn, kpath, "%s is not on the axis, so the rule never matches; valid: %s", vn.Value, strings.Join(dedupe(valid), ", "))
					continue
				}
				rule[name] = append(rule[name], norm)
			}
		}
		prof.Exclude = append(prof.Exclude, rule)
	}
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// matches reports whether every entry of the rule matches the point.
func (r Rule) matches(pt *Point) bool {
	for name, vals := range r {
		if !slices.Contains(vals, pt.Value(name)) {
			return false
		}
	}
	return true
}

// expand builds the cartesian product of the axes, first axis slowest,
// drops excluded points and checks each combination.
func (p *parser) expand(prof *Profile, axesNode *yaml.Node) {
	total := 1
	for _, vals := range p.axisVals {
		total *= len(vals)
		if total > MaxPoints {
			p.errorf(axesNode, "axes", "the axes make more than %d points (before excludes); split the sweep", MaxPoints)
			return
		}
	}
	idx := make([]int, len(p.axisVals))
	type failure struct {
		first string
		more  int
	}
	failures := map[string]*failure{}
	var order []string
	for range total {
		pt := prof.Base.clone()
		var label []string
		for a, vals := range p.axisVals {
			v := vals[idx[a]]
			for i, s := range v.settings {
				p.set(&pt, s.Name, v.nodes[i], v.paths[i])
				pt.Axes = append(pt.Axes, s)
				label = append(label, s.Name+"="+s.Written)
			}
		}
		pt.Label = cmpOr(strings.Join(label, "/"), "base")
		excluded := slices.ContainsFunc(prof.Exclude, func(r Rule) bool { return r.matches(&pt) })
		if excluded {
			prof.Excluded++
		} else {
			for _, err := range checkPoint(p.chk, p.where(resolve(axesNode))+": axes", prof.Target, &pt, !p.pointsUnchecked) {
				msg := err.Error()
				if f, ok := failures[msg]; ok {
					f.more++
					continue
				}
				failures[msg] = &failure{first: pt.Label}
				order = append(order, msg)
			}
			pt.Index = len(prof.Points) + 1
			pt.ID = fmt.Sprintf("p%03d", pt.Index)
			prof.Points = append(prof.Points, pt)
		}
		for a := len(idx) - 1; a >= 0; a-- { // odometer: last axis fastest
			idx[a]++
			if idx[a] < len(p.axisVals[a]) {
				break
			}
			idx[a] = 0
		}
	}
	for _, msg := range order {
		f := failures[msg]
		if len(prof.Axes) == 0 {
			p.errs = append(p.errs, fmt.Errorf("%s", msg))
			continue
		}
		more := ""
		if f.more > 0 {
			more = fmt.Sprintf(" and %d more", f.more)
		}
		p.errs = append(p.errs, fmt.Errorf("%s (point %s%s; change the setting or leave the combination out with an exclude rule)", msg, f.first, more))
	}
	if len(prof.Points) == 0 && len(p.errs) == 0 {
		p.errorf(nil, "exclude", "the rules exclude every point")
	}
}
