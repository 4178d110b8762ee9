package profiles

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/topicconf"
	"github.com/kbench/kbench/internal/units"
)

// A setting is anything a profile sets and an axis may sweep. Base sections
// (topic, producer, workload, ...) and axes go through the same setters, so
// a value is checked the same way wherever it is written.
type setting struct {
	name string
	// apply checks v, stores it in pt and returns the normalised value.
	apply func(c *checker, pt *Point, v string) (string, error)
}

// checker validates values against the load generator's own rules.
type checker struct {
	dir      string // profile directory, for relative payload files
	embedded bool
	dummy    bench.Target
	// seen caches verdicts: the generator builds clients to validate, and
	// an expansion checks the same settings many times.
	seen map[string]error
	// skipGenerator leaves the generator's checks out (the fuzz target,
	// whose coverage instrumentation makes building clients very slow).
	skipGenerator bool
}

func newChecker(dir string, embedded bool) *checker {
	// The generator validates without connecting; any address will do.
	tg, _ := bench.NewExternal("127.0.0.1:1")
	return &checker{dir: dir, embedded: embedded, dummy: tg, seen: map[string]error{}}
}

// run validates cfg as the load generator would before connecting.
func (c *checker) run(cfg bench.RunConfig) error {
	if cfg.Mode == "" {
		cfg.Mode = bench.ModeE2E
	}
	if cfg.Duration == 0 {
		cfg.Duration = time.Second
	}
	key, err := json.Marshal(cfg)
	if err == nil {
		if verdict, ok := c.seen[string(key)]; ok {
			return verdict
		}
	}
	if c.skipGenerator {
		return nil
	}
	cfg.Target = c.dummy
	verdict := cfg.Validate()
	if err == nil {
		c.seen[string(key)] = verdict
	}
	return verdict
}

// Byte-valued properties accept sizes with units in profiles (units.ParseBytes).
var sizeProps = []string{"batch.size", "buffer.memory", "max.request.size", "fetch.min.bytes", "fetch.max.bytes",
	"max.partition.fetch.bytes", "segment.bytes", "retention.bytes", "max.message.bytes"}

func normSize(name, v string) (string, error) {
	if !slices.Contains(sizeProps, name) || v == "-1" {
		return v, nil
	}
	n, err := units.ParseBytes(v)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(n, 10), nil
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q: want a whole number in [%d, %d]", v, lo, hi)
	}
	return n, nil
}

// parseRate reads unthrottled, max-sustainable or records/s such as 5000,
// 2.5k or 1M.
func parseRate(v string) (Rate, error) {
	switch v {
	case string(RateUnthrottled):
		return Rate{Kind: RateUnthrottled}, nil
	case string(RateMaxSustainable):
		return Rate{Kind: RateMaxSustainable}, nil
	}
	n, err := parseCount(v)
	if err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("%q: want records/s > 0 (like 5000, 2.5k, 1M), unthrottled or max-sustainable", v)
	}
	return Rate{Kind: RateFixed, PerSec: n}, nil
}

// parseCount reads a number with an optional k (×1000) or M (×1e6) suffix.
func parseCount(v string) (float64, error) {
	s, mult := strings.TrimSpace(v), 1.0
	if rest, ok := strings.CutSuffix(s, "k"); ok {
		s, mult = rest, 1e3
	} else if rest, ok := strings.CutSuffix(s, "M"); ok {
		s, mult = rest, 1e6
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("%q is not a number", v)
	}
	return n * mult, nil
}

var codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// settings returns the fixed settings; producer properties, consumer.* and
// topic.* names are resolved by lookupSetting.
func settings() []setting {
	return []setting{
		{"rate", func(_ *checker, pt *Point, v string) (string, error) {
			r, err := parseRate(v)
			if err != nil {
				return "", err
			}
			pt.Rate = r
			return r.String(), nil
		}},
		{"brokers", func(_ *checker, pt *Point, v string) (string, error) {
			n, err := intIn(v, 1, 64)
			pt.Brokers = n
			return strconv.Itoa(n), err
		}},
		{"partitions", func(_ *checker, pt *Point, v string) (string, error) {
			n, err := intIn(v, 1, 100000)
			pt.Topic.Partitions = int32(n)
			return strconv.Itoa(n), err
		}},
		{"replication.factor", func(_ *checker, pt *Point, v string) (string, error) {
			n, err := intIn(v, 1, math.MaxInt16)
			pt.Topic.ReplicationFactor = int16(n)
			return strconv.Itoa(n), err
		}},
		{"min.insync.replicas", func(_ *checker, pt *Point, v string) (string, error) {
			n, err := intIn(v, 1, math.MaxInt16)
			if err != nil {
				return "", err
			}
			pt.Topic.Configs = withKey(pt.Topic.Configs, "min.insync.replicas", strconv.Itoa(n))
			return strconv.Itoa(n), nil
		}},
		{"record_size", func(c *checker, pt *Point, v string) (string, error) {
			pt.Workload.RecordSize = v
			return v, c.run(bench.RunConfig{Workload: bench.Workload{RecordSize: v}})
		}},
		{"keys", func(c *checker, pt *Point, v string) (string, error) {
			pt.Workload.Keys = v
			return v, c.run(bench.RunConfig{Workload: bench.Workload{Keys: v}})
		}},
		{"payload", func(c *checker, pt *Point, v string) (string, error) {
			for _, kind := range []string{"file:", "blob:"} {
				if path, ok := strings.CutPrefix(v, kind); ok && path != "" && !filepath.IsAbs(path) {
					// Relative to the profile, as a reader of the profile expects.
					v = kind + filepath.Join(c.dir, path)
				}
			}
			pt.Workload.Payload = v
			return v, c.run(bench.RunConfig{Workload: bench.Workload{Payload: v}})
		}},
		{"compressibility", func(_ *checker, pt *Point, v string) (string, error) {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				return "", fmt.Errorf("%q: want a share between 0 and 1", v)
			}
			pt.Workload.Compressibility = f
			return strconv.FormatFloat(f, 'f', -1, 64), nil
		}},
		{"producers", func(_ *checker, pt *Point, v string) (string, error) {
			n, err := intIn(v, 1, 1024)
			pt.Producers = n
			return strconv.Itoa(n), err
		}},
		{"consumers", func(_ *checker, pt *Point, v string) (string, error) {
			n, err := intIn(v, 1, 1024)
			pt.Consumers = n
			return strconv.Itoa(n), err
		}},
		{"compression", func(c *checker, pt *Point, v string) (string, error) {
			// codec or codec:level, a shorthand for compression.type plus
			// compression.<codec>.level.
			codec, level, hasLevel := strings.Cut(strings.ToLower(strings.TrimSpace(v)), ":")
			if !slices.Contains(codecs, codec) {
				return "", fmt.Errorf("%q: unknown codec; valid: %s, optionally with :level (zstd:3, gzip:9, lz4:9)", v, strings.Join(codecs, ", "))
			}
			props := map[string]string{"compression.type": codec}
			if hasLevel {
				if codec == "none" || codec == "snappy" {
					return "", fmt.Errorf("%q: %s has no levels; levels exist for gzip, lz4 and zstd", v, codec)
				}
				props["compression."+codec+".level"] = level
			}
			if err := c.run(bench.RunConfig{Producer: props}); err != nil {
				return "", err
			}
			for k := range pt.Producer {
				if strings.HasPrefix(k, "compression.") {
					delete(pt.Producer, k)
				}
			}
			for k, pv := range props {
				pt.Producer = withKey(pt.Producer, k, pv)
			}
			if hasLevel {
				return codec + ":" + level, nil
			}
			return codec, nil
		}},
	}
}

// baseOnly are workload fields that set the run itself; they cannot be axes.
var baseOnly = []string{"mode", "warmup", "duration", "interval"}

func withKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// lookupSetting resolves a setting name: a fixed setting, a producer
// property by its Kafka name, consumer.<property> or topic.<config>.
func lookupSetting(name string) (setting, bool) {
	for _, s := range settings() {
		if s.name == name {
			return s, true
		}
	}
	if prop, ok := strings.CutPrefix(name, "consumer."); ok && hasProp(bench.RoleConsumer, prop) {
		return setting{name, func(c *checker, pt *Point, v string) (string, error) {
			return setProp(c, &pt.Consumer, bench.RoleConsumer, prop, v)
		}}, true
	}
	if cfg, ok := strings.CutPrefix(name, "topic."); ok && validTopicConfigName.MatchString(cfg) && cfg != "min.insync.replicas" {
		return setting{name, func(c *checker, pt *Point, v string) (string, error) {
			return setTopicConfig(c, pt, cfg, v)
		}}, true
	}
	if hasProp(bench.RoleProducer, name) && !hasProp(bench.RoleConsumer, name) {
		return setting{name, func(c *checker, pt *Point, v string) (string, error) {
			return setProp(c, &pt.Producer, bench.RoleProducer, name, v)
		}}, true
	}
	return setting{}, false
}

// settingNames lists what an axis may sweep, for error messages.
func settingNames() string {
	var names []string
	for _, s := range settings() {
		names = append(names, s.name)
	}
	names = append(names, "topic.<config>", "consumer.<consumer property>", "or a producer property ("+strings.Join(roleOnly(bench.RoleProducer), ", ")+")")
	return strings.Join(names, ", ")
}

// roleOnly lists the properties only role takes (connection properties
// belong to the target).
func roleOnly(role bench.Role) []string {
	var out []string
	for _, p := range bench.SupportedProperties(role) {
		if p.Role == role {
			out = append(out, p.Name)
		}
	}
	return out
}

func hasProp(role bench.Role, name string) bool {
	return slices.Contains(roleOnly(role), name)
}

func setProp(c *checker, dst *map[string]string, role bench.Role, name, v string) (string, error) {
	norm, err := normSize(name, strings.TrimSpace(v))
	if err != nil {
		return "", fmt.Errorf("property %s: %w", name, err)
	}
	cfg := bench.RunConfig{}
	if role == bench.RoleProducer {
		cfg.Producer = map[string]string{name: norm}
	} else {
		cfg.Consumer = map[string]string{name: norm}
	}
	if err := c.run(cfg); err != nil {
		return "", err
	}
	*dst = withKey(*dst, name, norm)
	return norm, nil
}

var validTopicConfigName = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z0-9]+)+$`)

// setTopicConfig checks a topic config. The embedded broker supports a
// known set; an external cluster gets any Kafka-shaped name and is the
// judge of its value.
func setTopicConfig(c *checker, pt *Point, name, v string) (string, error) {
	norm, err := normSize(name, strings.TrimSpace(v))
	if err != nil {
		return "", fmt.Errorf("topic config %s: %w", name, err)
	}
	if c.embedded {
		if err := topicconf.Validate(map[string]string{name: norm}); err != nil {
			return "", fmt.Errorf("%w (the embedded broker's set; an external cluster takes any)", err)
		}
	}
	pt.Topic.Configs = withKey(pt.Topic.Configs, name, norm)
	return norm, nil
}

// checkPoint checks what only the combination of settings decides, with
// the load generator's own check when generator is set; each error starts
// with where the deciding setting was written (or at, when the load
// generator's own check cannot say which).
func checkPoint(c *checker, at string, t Target, pt *Point, generator bool) []error {
	var errs []error
	if pt.Rate.Kind == "" {
		errs = append(errs, fmt.Errorf("%s: the point has no rate; set rate, or a rate in every group of the axis that sweeps it", at))
	}
	rf := int(pt.Topic.ReplicationFactor)
	if (t.Embedded() || t.Brokers > 0) && rf > pt.Brokers {
		errs = append(errs, fmt.Errorf("%s: replication.factor %d is more than the target's %s (valid: 1..%d)",
			cmpOr(pt.where["replication.factor"], at), rf, plural(pt.Brokers, "broker"), pt.Brokers))
	}
	if s, ok := pt.Topic.Configs["min.insync.replicas"]; ok && rf > 0 {
		if n, _ := strconv.Atoi(s); n > rf {
			errs = append(errs, fmt.Errorf("%s: min.insync.replicas %d is more than replication.factor %d (valid: 1..%d)",
				pt.where["min.insync.replicas"], n, rf, rf))
		}
	}
	if pt.Mode == bench.ModeProduce && len(pt.Consumer) > 0 {
		errs = append(errs, fmt.Errorf("%s: consumer properties are set but workload.mode is produce, which runs no consumer", pt.where["mode"]))
	}
	if !generator {
		return errs
	}
	if err := c.run(pt.RunConfig(pt.Rate.PerSec)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", at, err))
	}
	return errs
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
