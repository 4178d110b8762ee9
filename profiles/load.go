package profiles

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/internal/topicconf"
)

// The raw types are the schema: yaml.v3 decodes a profile into them with
// KnownFields, so an unknown field is an error, and every value stays a
// node so its line is known when it is checked.
type rawProfile struct {
	Name        yaml.Node    `yaml:"name"`
	Description yaml.Node    `yaml:"description"`
	Target      *rawTarget   `yaml:"target"`
	Topic       *rawTopic    `yaml:"topic"`
	Producer    yaml.Node    `yaml:"producer"`
	Consumer    yaml.Node    `yaml:"consumer"`
	Workload    *rawWorkload `yaml:"workload"`
	Rate        yaml.Node    `yaml:"rate"`
	Search      *rawSearch   `yaml:"search"`
	SLO         *rawSLO      `yaml:"slo"`
	Repeat      yaml.Node    `yaml:"repeat"`
	Axes        yaml.Node    `yaml:"axes"`
	Exclude     yaml.Node    `yaml:"exclude"`
	Faults      yaml.Node    `yaml:"faults"`
	Audit       yaml.Node    `yaml:"audit"`
	Frontier    *rawFrontier `yaml:"frontier"`
	Tune        *rawTune     `yaml:"tune"`
}

type rawTarget struct {
	Brokers          yaml.Node `yaml:"brokers"`
	Bootstrap        yaml.Node `yaml:"bootstrap"`
	ClientProperties yaml.Node `yaml:"client_properties"`
	Client           yaml.Node `yaml:"client"`
}

type rawTopic struct {
	Name              yaml.Node `yaml:"name"`
	Partitions        yaml.Node `yaml:"partitions"`
	ReplicationFactor yaml.Node `yaml:"replication.factor"`
	Configs           yaml.Node `yaml:"configs"`
}

type rawWorkload struct {
	Mode            yaml.Node `yaml:"mode"`
	RecordSize      yaml.Node `yaml:"record_size"`
	Keys            yaml.Node `yaml:"keys"`
	Payload         yaml.Node `yaml:"payload"`
	Compressibility yaml.Node `yaml:"compressibility"`
	Producers       yaml.Node `yaml:"producers"`
	Consumers       yaml.Node `yaml:"consumers"`
	Warmup          yaml.Node `yaml:"warmup"`
	Duration        yaml.Node `yaml:"duration"`
	Interval        yaml.Node `yaml:"interval"`
	Backlog         yaml.Node `yaml:"backlog"`
	DrainRatio      yaml.Node `yaml:"drain_ratio"`
}

type rawSearch struct {
	Start     yaml.Node `yaml:"start"`
	Min       yaml.Node `yaml:"min"`
	Max       yaml.Node `yaml:"max"`
	Factor    yaml.Node `yaml:"factor"`
	Precision yaml.Node `yaml:"precision"`
	MaxProbes yaml.Node `yaml:"max_probes"`
}

type rawSLO struct {
	Latency   yaml.Node `yaml:"latency"`
	P50Ms     yaml.Node `yaml:"p50_ms"`
	P99Ms     yaml.Node `yaml:"p99_ms"`
	P999Ms    yaml.Node `yaml:"p99_9_ms"`
	ErrorFree yaml.Node `yaml:"error_free"`
	MaxLagS   yaml.Node `yaml:"max_lag_s"`
}

// sections maps each raw type to where it sits in a profile.
func sections() map[reflect.Type]string {
	return map[reflect.Type]string{
		reflect.TypeFor[rawProfile]():  "",
		reflect.TypeFor[rawTarget]():   "target",
		reflect.TypeFor[rawTopic]():    "topic",
		reflect.TypeFor[rawWorkload](): "workload",
		reflect.TypeFor[rawSearch]():   "search",
		reflect.TypeFor[rawSLO]():      "slo",
		reflect.TypeFor[rawFrontier](): "frontier",
		reflect.TypeFor[rawTune]():     "tune",
	}
}

// fieldNames lists a raw type's YAML field names in schema order.
func fieldNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		out = append(out, f.Tag.Get("yaml"))
	}
	return out
}

// MaxPoints bounds an expansion, so a typo in an axis cannot start a
// week-long sweep.
const MaxPoints = 5000

// Options are how a profile is read.
type Options struct {
	// Dir resolves relative paths inside the profile (payload files,
	// client_properties); default: the file's directory.
	Dir string
	// Set are PATH=VALUE overrides applied on top of the file, VALUE in
	// YAML (so lists work: axes.linger.ms=[0,5]). PATH is a field path
	// such as workload.duration, topic.replication.factor,
	// producer.linger.ms or axes.batch.size.
	Set []string
	// Source is recorded in the profile ("builtin" or a path); default: file.
	Source string
	// PointsUnchecked leaves out the load generator's check of each
	// expanded point (every setting is still checked where it is written,
	// and so are the combinations the profile itself decides, such as the
	// replication factor against the brokers). kbench tune measures a few
	// dozen of a grid's hundreds of points and checks each as it runs it;
	// checking all of them up front would build a client per point.
	PointsUnchecked bool

	skipGenerator bool // see checker
}

// Parse reads and validates a profile; file names it in errors.
func Parse(file string, src []byte, opts Options) (*Profile, error) {
	p := &parser{file: file, sets: opts.Set, skipGenerator: opts.skipGenerator, pointsUnchecked: opts.PointsUnchecked}
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(file)
	}
	if dir, err := filepath.Abs(opts.Dir); err == nil {
		opts.Dir = dir
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, p.yamlError(err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the profile is empty; top-level fields: %s", file, strings.Join(fieldNames(reflect.TypeFor[rawProfile]()), ", "))
	}
	// Strict pass over the file as written: unknown fields, wrong shapes.
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var strict rawProfile
	if err := dec.Decode(&strict); err != nil {
		p.root = &root
		return nil, p.yamlError(err)
	}
	for i, item := range opts.Set {
		if err := p.override(&root, i, item); err != nil {
			p.errs = append(p.errs, err)
		}
	}
	if len(p.errs) > 0 {
		return nil, p.joined()
	}
	var raw rawProfile
	if err := root.Decode(&raw); err != nil {
		return nil, p.yamlError(err)
	}
	prof := &Profile{Source: cmpOr(opts.Source, file), Overrides: opts.Set, YAML: string(src)}
	p.build(prof, &raw, opts.Dir)
	if len(p.errs) > 0 {
		return nil, p.joined()
	}
	return prof, nil
}

// Load reads a built-in profile by name, or a file by path.
func Load(nameOrPath string, set []string) (*Profile, error) {
	return LoadWith(nameOrPath, Options{Set: set})
}

// LoadWith is Load with options; Dir and Source are set from where the
// profile is found.
func LoadWith(nameOrPath string, opts Options) (*Profile, error) {
	if src, ok := Builtin(nameOrPath); ok {
		opts.Source, opts.Dir = "builtin", "."
		return Parse(nameOrPath+".yaml", src, opts)
	}
	src, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(nameOrPath, `/\.`) {
			return nil, fmt.Errorf("no built-in profile %q and no such file; built-in profiles: %s", nameOrPath, strings.Join(Names(), ", "))
		}
		return nil, fmt.Errorf("read profile: %w", err)
	}
	opts.Source, opts.Dir = "", ""
	return Parse(nameOrPath, src, opts)
}

type parser struct {
	file     string
	sets     []string
	errs     []error
	chk      *checker
	axisVals [][]axisValue
	root     *yaml.Node // for naming fields in yaml.v3's errors

	skipGenerator   bool
	pointsUnchecked bool
	// settings remembers lookupSetting's answers: an expansion sets the
	// same few settings on every point, and each lookup lists the
	// generator's properties.
	settings map[string]setting
}

func (p *parser) lookup(name string) (setting, bool) {
	if s, ok := p.settings[name]; ok {
		return s, true
	}
	s, ok := lookupSetting(name)
	if ok {
		if p.settings == nil {
			p.settings = map[string]setting{}
		}
		p.settings[name] = s
	}
	return s, ok
}

// where names a node's position: file:line, or the --set item that made it
// (those nodes carry negative lines).
func (p *parser) where(n *yaml.Node) string {
	if n != nil && n.Line < 0 && -n.Line <= len(p.sets) {
		return "--set " + p.sets[-n.Line-1]
	}
	if n == nil || n.Line == 0 {
		return p.file
	}
	return fmt.Sprintf("%s:%d", p.file, n.Line)
}

// joined returns the errors in file order; those without a line (missing
// fields, --set items) come last, as found.
func (p *parser) joined() error {
	line := func(err error) int {
		rest, ok := strings.CutPrefix(err.Error(), p.file+":")
		if !ok {
			return math.MaxInt
		}
		n, perr := strconv.Atoi(rest[:max(strings.IndexByte(rest, ':'), 0)])
		if perr != nil {
			return math.MaxInt
		}
		return n
	}
	slices.SortStableFunc(p.errs, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
	return errors.Join(p.errs...)
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s: %s", p.where(n), path, fmt.Sprintf(format, args...)))
}

var (
	yamlLineRe  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownRe   = regexp.MustCompile(`^line (-?\d+): field (.+) not found in type (\S+)$`)
	wrongKindRe = regexp.MustCompile(`^line (-?\d+): cannot unmarshal (!!\w+)(?: .*)? into (\S+)$`)
	duplicateRe = regexp.MustCompile(`^line (-?\d+): mapping key "(.*)" already defined at line (\d+)$`)
	anyLineRe   = regexp.MustCompile(`^line (-?\d+): (.*)$`)
)

// yamlError rewrites yaml.v3's errors to name the file, the field and the
// valid fields.
func (p *parser) yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%s:%s: invalid YAML: %s", p.file, m[1], m[2])
		}
		return fmt.Errorf("%s: invalid YAML: %s", p.file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	byName := map[string]string{}
	fields := map[string][]string{}
	for t, sec := range sections() {
		byName[t.String()] = sec
		fields[t.String()] = fieldNames(t)
	}
	at := func(line string) *yaml.Node {
		n, _ := strconv.Atoi(line)
		return &yaml.Node{Line: n}
	}
	var errs []error
	for _, msg := range te.Errors {
		if m := unknownRe.FindStringSubmatch(msg); m != nil {
			errs = append(errs, fmt.Errorf("%s: %s: unknown field; valid fields here: %s", p.where(at(m[1])), join(byName[m[3]], m[2]), strings.Join(fields[m[3]], ", ")))
		} else if m := wrongKindRe.FindStringSubmatch(msg); m != nil && fields[m[3]] != nil {
			errs = append(errs, fmt.Errorf("%s: %s: got %s, want a mapping with fields %s", p.where(at(m[1])), byName[m[3]], kindName(m[2]), strings.Join(fields[m[3]], ", ")))
		} else if m := duplicateRe.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			errs = append(errs, fmt.Errorf("%s: %s: given twice (first on line %s)", p.where(at(m[1])), cmpOr(pathAt(p.root, line, m[2], ""), m[2]), m[3]))
		} else if m := anyLineRe.FindStringSubmatch(msg); m != nil {
			errs = append(errs, fmt.Errorf("%s: %s", p.where(at(m[1])), m[2]))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s", p.file, msg))
		}
	}
	return errors.Join(errs...)
}

// pathAt finds the key named key on line in the tree and returns its
// dotted path ("" if not found).
func pathAt(n *yaml.Node, line int, key, prefix string) string {
	if n == nil {
		return ""
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			if got := pathAt(c, line, key, prefix); got != "" {
				return got
			}
		}
		return ""
	}
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		path := join(prefix, k.Value)
		if k.Line == line && k.Value == key {
			return path
		}
		if got := pathAt(n.Content[i+1], line, key, path); got != "" {
			return got
		}
	}
	return ""
}

func kindName(tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	}
	return "a single value"
}

func join(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}

// override applies one PATH=VALUE item to the document.
func (p *parser) override(root *yaml.Node, idx int, item string) error {
	path, val, ok := strings.Cut(item, "=")
	if !ok || path == "" {
		return fmt.Errorf("--set %s: want PATH=VALUE, e.g. workload.duration=10s or axes.linger.ms=[0,5]", item)
	}
	keys, err := resolvePath(path)
	if err != nil {
		return fmt.Errorf("--set %s: %w", item, err)
	}
	var vdoc yaml.Node
	if err := yaml.Unmarshal([]byte(val), &vdoc); err != nil {
		return fmt.Errorf("--set %s: value is not valid YAML: %w", item, err)
	}
	value := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
	if len(vdoc.Content) == 1 {
		value = vdoc.Content[0]
	}
	mark(value, -(idx + 1))
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return fmt.Errorf("--set %s: the profile's top level is not a mapping", item)
	}
	for i, k := range keys {
		last := i == len(keys)-1
		found := -1
		for j := 0; j+1 < len(doc.Content); j += 2 {
			if doc.Content[j].Value == k {
				found = j
			}
		}
		if last {
			if found >= 0 {
				doc.Content[found+1] = value
			} else {
				key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k, Line: -(idx + 1)}
				doc.Content = append(doc.Content, key, value)
			}
			return nil
		}
		if found < 0 {
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k, Line: -(idx + 1)}
			child := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: -(idx + 1)}
			doc.Content = append(doc.Content, key, child)
			doc = child
			continue
		}
		doc = resolve(doc.Content[found+1])
		if doc.Kind != yaml.MappingNode {
			return fmt.Errorf("--set %s: %s is not a mapping in the profile", item, strings.Join(keys[:i+1], "."))
		}
	}
	return nil
}

func mark(n *yaml.Node, line int) {
	n.Line = line
	for _, c := range n.Content {
		mark(c, line)
	}
}

// resolvePath splits a dotted override path into mapping keys, following
// the schema (so topic.replication.factor is topic → replication.factor and
// producer.linger.ms is producer → linger.ms).
func resolvePath(path string) ([]string, error) {
	t := reflect.TypeFor[rawProfile]()
	var keys []string
	rest := path
	for {
		var match *reflect.StructField
		for f := range t.Fields() {
			tag := f.Tag.Get("yaml")
			if rest == tag || strings.HasPrefix(rest, tag+".") {
				match = &f
				break
			}
		}
		if match == nil {
			where := sections()[t]
			if where == "" {
				where = "the top level"
			}
			return nil, fmt.Errorf("%s is not a field; valid at %s: %s", path, where, strings.Join(fieldNames(t), ", "))
		}
		tag := match.Tag.Get("yaml")
		keys = append(keys, tag)
		if rest == tag {
			return keys, nil
		}
		rest = strings.TrimPrefix(rest, tag+".")
		ft := match.Type
		if ft.Kind() == reflect.Pointer {
			t = ft.Elem()
			continue
		}
		// A free-form mapping (producer, axes, topic.configs, ...): the
		// rest, dots and all, is one key.
		if tag == "exclude" {
			return nil, fmt.Errorf("%s: exclude is a list; set it whole (exclude=[{...}])", path)
		}
		if ft != reflect.TypeFor[yaml.Node]() || !slices.Contains([]string{"producer", "consumer", "client", "configs", "axes"}, tag) {
			return nil, fmt.Errorf("%s: %s holds a single value", path, strings.Join(keys, "."))
		}
		return append(keys, rest), nil
	}
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func present(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind != 0 && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// scalar returns a node's value, or reports that it is not a single value.
func (p *parser) scalar(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "got %s, want a single value", kindOf(n))
		return "", false
	}
	return n.Value, true
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "a single value"
}

// pairs returns a mapping's key/value nodes in order, reporting duplicates.
func (p *parser) pairs(n *yaml.Node, path string) [][2]*yaml.Node {
	n = resolve(n)
	if !present(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "got %s, want a mapping of name: value", kindOf(n))
		return nil
	}
	var out [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			p.errorf(k, join(path, k.Value), "given twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

// set applies a setting from a node to pt, remembering where it came from.
func (p *parser) set(pt *Point, name string, n *yaml.Node, path string) (written, norm string, ok bool) {
	v, ok := p.scalar(n, path)
	if !ok {
		return "", "", false
	}
	s, known := p.lookup(name)
	if !known {
		p.errorf(n, path, "unknown setting %q; valid: %s", name, settingNames())
		return "", "", false
	}
	norm, err := s.apply(p.chk, pt, v)
	if err != nil {
		p.errorf(n, path, "%v", err)
		return "", "", false
	}
	if pt.where == nil {
		pt.where = map[string]string{}
	}
	pt.where[name] = p.where(resolve(n)) + ": " + path
	return v, norm, true
}

func (p *parser) duration(n *yaml.Node, path string, min time.Duration, dst *Duration) {
	if !present(n) {
		return
	}
	v, ok := p.scalar(n, path)
	if !ok {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		p.errorf(n, path, "%q: want a duration of at least %v, like 30s or 2m", v, min)
		return
	}
	*dst = Duration(d)
}

// count reads a whole number in [lo, hi].
func (p *parser) count(n *yaml.Node, path string, lo, hi int, dst *int) {
	if !present(n) {
		return
	}
	v, ok := p.scalar(n, path)
	if !ok {
		return
	}
	c, err := intIn(v, lo, hi)
	if err != nil {
		p.errorf(n, path, "%v", err)
		return
	}
	*dst = c
}

// parseShare reads a share: 0.1 or 10%.
func parseShare(v string) (float64, error) {
	s, pct := strings.CutSuffix(strings.TrimSpace(v), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if pct {
		f /= 100
	}
	return f, nil
}

func (p *parser) number(n *yaml.Node, path string, lo, hi float64, dst *float64) {
	if !present(n) {
		return
	}
	v, ok := p.scalar(n, path)
	if !ok {
		return
	}
	f, err := parseCount(v)
	if err != nil || f < lo || f > hi {
		p.errorf(n, path, "%q: want a number in [%g, %g]", v, lo, hi)
		return
	}
	*dst = f
}

func (p *parser) oneOf(n *yaml.Node, path string, dst *string, valid ...string) {
	if !present(n) {
		return
	}
	v, ok := p.scalar(n, path)
	if !ok {
		return
	}
	if !slices.Contains(valid, v) {
		p.errorf(n, path, "%q: valid values: %s", v, strings.Join(valid, ", "))
		return
	}
	*dst = v
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// build turns the raw document into prof, collecting every error.
func (p *parser) build(prof *Profile, raw *rawProfile, dir string) {
	prof.Name = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(p.file), ".yaml"), ".yml")
	if present(&raw.Name) {
		if v, ok := p.scalar(&raw.Name, "name"); ok {
			prof.Name = v
		}
	}
	if !nameRe.MatchString(prof.Name) {
		p.errorf(&raw.Name, "name", "%q: want 1-64 characters of a-z, 0-9, '.', '_', '-' (it names run directories and the topic)", prof.Name)
	}
	if present(&raw.Description) {
		prof.Description, _ = p.scalar(&raw.Description, "description")
	}
	p.target(prof, raw.Target, dir)
	p.chk = newChecker(dir, prof.Target.Embedded())
	p.chk.skipGenerator = p.skipGenerator

	base := &prof.Base
	*base = Point{
		Brokers:   prof.Target.Brokers,
		Topic:     bench.TopicConfig{Name: "kbench-" + prof.Name, Partitions: bench.DefaultPartitions},
		Workload:  bench.Workload{RecordSize: "1024"},
		Mode:      bench.ModeE2E,
		Producers: 1, Consumers: 1,
		Interval: Duration(time.Second),
		where:    map[string]string{"mode": p.file + ": workload.mode"},
	}
	if prof.Target.Embedded() {
		base.Topic.ReplicationFactor = 1 // an external cluster's default applies otherwise
	}
	p.topic(base, raw.Topic)
	for _, kv := range p.pairs(&raw.Producer, "producer") {
		path := "producer." + kv[0].Value
		if !hasProp(bench.RoleProducer, kv[0].Value) {
			p.errorf(kv[0], path, "not a producer property (connection and security properties go in target.client); valid: %s", strings.Join(roleOnly(bench.RoleProducer), ", "))
			continue
		}
		p.set(base, kv[0].Value, kv[1], path)
	}
	for _, kv := range p.pairs(&raw.Consumer, "consumer") {
		path := "consumer." + kv[0].Value
		if !hasProp(bench.RoleConsumer, kv[0].Value) {
			p.errorf(kv[0], path, "not a consumer property (connection and security properties go in target.client); valid: %s", strings.Join(roleOnly(bench.RoleConsumer), ", "))
			continue
		}
		p.set(base, "consumer."+kv[0].Value, kv[1], path)
	}
	p.workload(base, raw.Workload)
	rateSwept := false
	if present(&raw.Axes) {
		for _, kv := range p.pairs(&raw.Axes, "axes") {
			if kv[0].Value == "rate" {
				rateSwept = true
			}
			if v := resolve(kv[1]); v.Kind == yaml.SequenceNode && len(v.Content) > 0 && resolve(v.Content[0]).Kind == yaml.MappingNode {
				for _, g := range v.Content {
					if g = resolve(g); g.Kind == yaml.MappingNode {
						for i := 0; i < len(g.Content); i += 2 {
							rateSwept = rateSwept || g.Content[i].Value == "rate"
						}
					}
				}
			}
		}
	}
	switch {
	case present(&raw.Rate):
		p.set(base, "rate", &raw.Rate, "rate")
	case !rateSwept:
		p.errorf(nil, "rate", "missing; valid: records/s (like 5000 or 2.5k), unthrottled or max-sustainable, or sweep it in axes.rate")
	}
	p.search(prof, raw.Search)
	p.slo(prof, raw.SLO)
	prof.Repeat = 1
	p.count(&raw.Repeat, "repeat", 1, 100, &prof.Repeat)
	p.durability(prof, raw)
	if len(p.errs) > 0 {
		return // axes are checked against a valid base only
	}
	p.axes(prof, &raw.Axes)
	p.excludes(prof, &raw.Exclude)
	if len(p.errs) > 0 {
		return
	}
	p.expand(prof, &raw.Axes)
	if len(p.errs) > 0 {
		return
	}
	p.checkSearchUse(prof, raw)
	p.checkFaults(prof, prof.Faults, &raw.Faults, "faults")
	p.frontier(prof, raw)
	p.tune(prof, raw.Tune)
}

// durability reads the fault schedule and the audit switch.
func (p *parser) durability(prof *Profile, raw *rawProfile) {
	if present(&raw.Audit) {
		if v, ok := p.scalar(&raw.Audit, "audit"); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				p.errorf(&raw.Audit, "audit", "%q: want true or false", v)
			}
			prof.Audit = b
		}
	}
	if present(&raw.Faults) {
		prof.Faults = p.schedule(&raw.Faults, "faults")
	}
}

// schedule reads a list of faults.
func (p *parser) schedule(n *yaml.Node, path string) faults.Schedule {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "got %s, want a list of AT:ACTION[:ARGS] (10s:kill-leader:0) or {at: 10s, action: kill-leader, partition: 0}", kindOf(n))
		return nil
	}
	var s faults.Schedule
	for i, item := range n.Content {
		a, err := faults.FromYAML(resolve(item))
		if err != nil {
			p.errorf(item, fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		s = append(s, a)
	}
	s.Sort()
	return s
}

// checkFaults checks the schedule against every point's cluster: actions
// other than exec need the embedded cluster of at least 2 brokers.
func (p *parser) checkFaults(prof *Profile, s faults.Schedule, n *yaml.Node, path string) {
	if !s.NeedsCluster() {
		return
	}
	i := slices.IndexFunc(s, faults.Action.NeedsCluster)
	if !prof.Target.Embedded() {
		p.errorf(n, path, "%s needs kbench's embedded cluster; against target.bootstrap only exec faults run", s[i])
		return
	}
	seen := map[int]bool{}
	for _, pt := range prof.Points {
		if seen[pt.Brokers] {
			continue
		}
		seen[pt.Brokers] = true
		if pt.Brokers < 2 {
			p.errorf(n, path, "%s needs an embedded cluster of 2 or more brokers, point %s (%s) has %d: set target.brokers", s[i], pt.ID, pt.Label, pt.Brokers)
			continue
		}
		if err := s.Validate(pt.Brokers); err != nil {
			p.errorf(n, path, "point %s (%s): %v", pt.ID, pt.Label, err)
		}
	}
}

func (p *parser) target(prof *Profile, rt *rawTarget, dir string) {
	t := &prof.Target
	if rt == nil {
		t.Brokers = 1
		return
	}
	if present(&rt.Bootstrap) {
		if v, ok := p.scalar(&rt.Bootstrap, "target.bootstrap"); ok {
			if _, err := bench.NewExternal(v); err != nil {
				p.errorf(&rt.Bootstrap, "target.bootstrap", "%v", err)
			}
			t.Bootstrap = v
		}
	}
	if !t.Embedded() {
		t.Brokers = 0 // unknown unless stated
	} else {
		t.Brokers = 1
	}
	p.count(&rt.Brokers, "target.brokers", 1, 64, &t.Brokers)
	if present(&rt.ClientProperties) {
		if v, ok := p.scalar(&rt.ClientProperties, "target.client_properties"); ok {
			if !filepath.IsAbs(v) {
				v = filepath.Join(dir, v)
			}
			if _, err := os.Stat(v); err != nil {
				p.errorf(&rt.ClientProperties, "target.client_properties", "%v", err)
			}
			t.ClientProperties = v
		}
	}
	for _, kv := range p.pairs(&rt.Client, "target.client") {
		if v, ok := p.scalar(kv[1], "target.client."+kv[0].Value); ok {
			t.Client = withKey(t.Client, kv[0].Value, v)
		}
	}
	if len(t.Client) > 0 {
		chk := newChecker(dir, t.Embedded())
		chk.skipGenerator = p.skipGenerator
		if err := chk.run(bench.RunConfig{Client: t.Client}); err != nil {
			p.errorf(&rt.Client, "target.client", "%v", err)
		}
	}
}

func (p *parser) topic(base *Point, rt *rawTopic) {
	if rt == nil {
		return
	}
	if present(&rt.Name) {
		if v, ok := p.scalar(&rt.Name, "topic.name"); ok {
			if err := topicconf.ValidateName(v); err != nil {
				p.errorf(&rt.Name, "topic.name", "%v", err)
			}
			base.Topic.Name = v
		}
	}
	if present(&rt.Partitions) {
		p.set(base, "partitions", &rt.Partitions, "topic.partitions")
	}
	if present(&rt.ReplicationFactor) {
		p.set(base, "replication.factor", &rt.ReplicationFactor, "topic.replication.factor")
	}
	for _, kv := range p.pairs(&rt.Configs, "topic.configs") {
		name := "topic." + kv[0].Value
		if kv[0].Value == "min.insync.replicas" {
			name = kv[0].Value
		} else if _, ok := lookupSetting(name); !ok {
			p.errorf(kv[0], "topic.configs."+kv[0].Value, "not a topic config name; valid: %s", strings.Join(topicconf.Names(), ", "))
			continue
		}
		p.set(base, name, kv[1], "topic.configs."+kv[0].Value)
	}
}

func (p *parser) workload(base *Point, rw *rawWorkload) {
	if rw == nil || !present(&rw.Duration) {
		p.errorf(nil, "workload.duration", "missing; want a duration like 30s (the measured time of every run, after warmup)")
		if rw == nil {
			return
		}
	}
	mode := string(base.Mode)
	p.oneOf(&rw.Mode, "workload.mode", &mode, string(bench.ModeE2E), string(bench.ModeProduce))
	base.Mode = bench.Mode(mode)
	if present(&rw.Mode) {
		base.where["mode"] = p.where(resolve(&rw.Mode)) + ": workload.mode"
	}
	for _, f := range []struct {
		name string
		n    *yaml.Node
	}{{"record_size", &rw.RecordSize}, {"keys", &rw.Keys}, {"payload", &rw.Payload}, {"compressibility", &rw.Compressibility},
		{"producers", &rw.Producers}, {"consumers", &rw.Consumers}} {
		if present(f.n) {
			p.set(base, f.name, f.n, "workload."+f.name)
		}
	}
	p.duration(&rw.Warmup, "workload.warmup", 0, &base.Warmup)
	p.duration(&rw.Duration, "workload.duration", 100*time.Millisecond, &base.Duration)
	p.duration(&rw.Interval, "workload.interval", 100*time.Millisecond, &base.Interval)
	p.backlog(base, rw)
}

func (p *parser) search(prof *Profile, rs *rawSearch) {
	s := &prof.Search
	*s = Search{Factor: DefaultSearchFactor, Precision: DefaultSearchPrecision, MaxProbes: DefaultSearchMaxProbes}
	if rs == nil {
		return
	}
	if present(&rs.Start) {
		if v, ok := p.scalar(&rs.Start, "search.start"); ok && v != "auto" {
			p.number(&rs.Start, "search.start", 1, 1e9, &s.Start)
		}
	}
	p.number(&rs.Min, "search.min", 1, 1e9, &s.Min)
	p.number(&rs.Max, "search.max", 1, 1e9, &s.Max)
	p.number(&rs.Factor, "search.factor", 1.1, 16, &s.Factor)
	if present(&rs.Precision) {
		if v, ok := p.scalar(&rs.Precision, "search.precision"); ok {
			f, err := parseShare(v)
			if err != nil || f < 0.001 || f > 0.5 {
				p.errorf(&rs.Precision, "search.precision", "%q: want a share of the rate between 0.001 and 0.5 (or 0.1%%-50%%)", v)
			} else {
				s.Precision = f
			}
		}
	}
	p.count(&rs.MaxProbes, "search.max_probes", 2, 100, &s.MaxProbes)
	if s.Min > 0 && s.Max > 0 && s.Min >= s.Max {
		p.errorf(&rs.Min, "search.min", "%g is not below search.max %g", s.Min, s.Max)
	}
	if s.Start > 0 && ((s.Min > 0 && s.Start < s.Min) || (s.Max > 0 && s.Start > s.Max)) {
		p.errorf(&rs.Start, "search.start", "%g is outside [search.min, search.max]", s.Start)
	}
}

func (p *parser) slo(prof *Profile, rs *rawSLO) {
	s := &prof.SLO
	*s = SLO{Latency: "response", ErrorFree: true, MaxLagSec: 1}
	if rs == nil {
		return
	}
	p.oneOf(&rs.Latency, "slo.latency", &s.Latency, "response", "service", "e2e")
	if s.Latency == "e2e" && prof.Base.Mode != bench.ModeE2E {
		p.errorf(&rs.Latency, "slo.latency", "e2e latency needs workload.mode e2e; valid with mode %s: response, service", prof.Base.Mode)
	}
	p.number(&rs.P50Ms, "slo.p50_ms", 0, 1e6, &s.P50Ms)
	p.number(&rs.P99Ms, "slo.p99_ms", 0, 1e6, &s.P99Ms)
	p.number(&rs.P999Ms, "slo.p99_9_ms", 0, 1e6, &s.P999Ms)
	if present(&rs.ErrorFree) {
		v := strconv.FormatBool(s.ErrorFree)
		p.oneOf(&rs.ErrorFree, "slo.error_free", &v, "true", "false")
		s.ErrorFree = v == "true"
	}
	if present(&rs.MaxLagS) {
		p.number(&rs.MaxLagS, "slo.max_lag_s", 0.001, 1e6, &s.MaxLagSec)
		if prof.Base.Mode != bench.ModeE2E {
			p.errorf(&rs.MaxLagS, "slo.max_lag_s", "consumer lag needs workload.mode e2e")
		}
	}
	if prof.Base.Mode != bench.ModeE2E {
		s.MaxLagSec = 0
	}
}

// checkSearchUse rejects a search block no point uses: its settings would
// silently do nothing.
func (p *parser) checkSearchUse(prof *Profile, raw *rawProfile) {
	if raw.Search != nil && !prof.UsesSearch() {
		p.errorf(nil, "search", "set, but no point has rate max-sustainable")
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
