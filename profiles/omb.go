package profiles

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// An OpenMessaging Benchmark (OMB) workload file, as OMB's Workload class
// reads it. Pointers tell a field that was written from one left out, so
// OMB's defaults apply only to the latter.
type ombWorkload struct {
	Name                      *string  `yaml:"name"`
	Topics                    *int     `yaml:"topics"`
	PartitionsPerTopic        *int     `yaml:"partitionsPerTopic"`
	KeyDistributor            *string  `yaml:"keyDistributor"`
	MessageSize               *int     `yaml:"messageSize"`
	UseRandomizedPayloads     *bool    `yaml:"useRandomizedPayloads"`
	RandomBytesRatio          *float64 `yaml:"randomBytesRatio"`
	RandomizedPayloadPoolSize *int     `yaml:"randomizedPayloadPoolSize"`
	PayloadFile               *string  `yaml:"payloadFile"`
	SubscriptionsPerTopic     *int     `yaml:"subscriptionsPerTopic"`
	ProducersPerTopic         *int     `yaml:"producersPerTopic"`
	ConsumerPerSubscription   *int     `yaml:"consumerPerSubscription"`
	ProducerRate              *float64 `yaml:"producerRate"`
	ProducerStartRate         *float64 `yaml:"producerStartRate"`
	ConsumerBacklogSizeGB     *float64 `yaml:"consumerBacklogSizeGB"`
	BacklogDrainRatio         *float64 `yaml:"backlogDrainRatio"`
	TestDurationMinutes       *float64 `yaml:"testDurationMinutes"`
	WarmupDurationMinutes     *float64 `yaml:"warmupDurationMinutes"`
	LogIntervalMillis         *int     `yaml:"logIntervalMillis"`
	// OMB fields kbench reads only at their OMB default: anything else is
	// refused with the reason (ombUnsupported).
	AcceptableBacklog                  *float64 `yaml:"acceptableBacklog"`
	ProducerIncrementRate              *float64 `yaml:"producerIncrementRate"`
	ProducerIncrementSeconds           *float64 `yaml:"producerIncrementSeconds"`
	ProducerPauseBeforeDrain           *float64 `yaml:"producerPauseBeforeDrain"`
	ProducerPauseDuringDrain           *float64 `yaml:"producerPauseDuringDrain"`
	MessageRateReceivedForSubscription *float64 `yaml:"messageRateReceivedForSubscription"`
}

// An OMB driver file for the Kafka driver (driver-kafka/*.yaml): OMB's
// DriverConfiguration plus the Kafka driver's Config.
type ombDriver struct {
	Name              *string `yaml:"name"`
	DriverClass       *string `yaml:"driverClass"`
	ReplicationFactor *int    `yaml:"replicationFactor"`
	Reset             *bool   `yaml:"reset"`
	TopicConfig       *string `yaml:"topicConfig"`
	CommonConfig      *string `yaml:"commonConfig"`
	ProducerConfig    *string `yaml:"producerConfig"`
	ConsumerConfig    *string `yaml:"consumerConfig"`
}

// ombKeyCount is how many distinct keys OMB's key distributors draw from.
const ombKeyCount = 10000

// ombUnsupported are OMB workload fields kbench cannot honour, with the value
// at which they change nothing (OMB's default) and the reason.
var ombUnsupported = []struct {
	field string
	get   func(*ombWorkload) *float64
	def   float64
	why   string
}{
	{"acceptableBacklog", func(w *ombWorkload) *float64 { return w.AcceptableBacklog }, 10000,
		"kbench's max-sustainable search bounds consumer lag in seconds of production (slo.max_lag_s), not in records"},
	{"producerIncrementRate", func(w *ombWorkload) *float64 { return w.ProducerIncrementRate }, 0,
		"kbench runs each rate as its own point; give the rates as a sweep axis instead"},
	{"producerIncrementSeconds", func(w *ombWorkload) *float64 { return w.ProducerIncrementSeconds }, 60,
		"kbench runs each rate as its own point; give the rates as a sweep axis instead"},
	{"producerPauseBeforeDrain", func(w *ombWorkload) *float64 { return w.ProducerPauseBeforeDrain }, 0,
		"kbench's producers keep their rate while the backlog drains"},
	{"producerPauseDuringDrain", func(w *ombWorkload) *float64 { return w.ProducerPauseDuringDrain }, 0,
		"kbench's producers keep their rate while the backlog drains"},
	{"messageRateReceivedForSubscription", func(w *ombWorkload) *float64 { return w.MessageRateReceivedForSubscription }, 100,
		"kbench's consumers read every record (no filtered subscriptions)"},
}

// The converted profile, in the order a profile is written.
type convProfile struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Target      *convTarget       `yaml:"target,omitempty"`
	Topic       convTopic         `yaml:"topic"`
	Producer    map[string]string `yaml:"producer,omitempty"`
	Consumer    map[string]string `yaml:"consumer,omitempty"`
	Workload    convWorkload      `yaml:"workload"`
	Rate        string            `yaml:"rate"`
	Search      *convSearch       `yaml:"search,omitempty"`
}

type convTarget struct {
	Brokers int               `yaml:"brokers,omitempty"`
	Client  map[string]string `yaml:"client,omitempty"`
}

type convTopic struct {
	Partitions        int               `yaml:"partitions"`
	ReplicationFactor int               `yaml:"replication.factor,omitempty"`
	Configs           map[string]string `yaml:"configs,omitempty"`
}

type convWorkload struct {
	Mode            string   `yaml:"mode"`
	RecordSize      string   `yaml:"record_size"`
	Keys            string   `yaml:"keys"`
	Payload         string   `yaml:"payload"`
	Compressibility *float64 `yaml:"compressibility,omitempty"`
	Producers       int      `yaml:"producers"`
	Consumers       int      `yaml:"consumers,omitempty"`
	Warmup          string   `yaml:"warmup"`
	Duration        string   `yaml:"duration"`
	Interval        string   `yaml:"interval,omitempty"`
	Backlog         string   `yaml:"backlog,omitempty"`
	DrainRatio      *float64 `yaml:"drain_ratio,omitempty"`
}

type convSearch struct {
	Start string `yaml:"start,omitempty"`
}

// OMBConversion is an OMB workload (and Kafka driver) file written as a
// kbench profile.
type OMBConversion struct {
	// YAML is the profile, with a header naming its sources and Notes.
	YAML []byte
	// Notes say where kbench reads a field differently from OMB.
	Notes []string
	// Workload and Driver are the names the OMB files give (OMB's result
	// JSON carries them).
	Workload, Driver string

	payloadFile string // as the workload names it
	messageSize int
}

// ConvertOMB writes an OMB workload file, and optionally an OMB Kafka
// driver file, as a kbench profile. It is strict like a profile: an unknown
// field is an error naming it, and a field kbench cannot honour is an error
// that says why. The files' names are used in errors and in the header.
func ConvertOMB(workloadFile string, workload []byte, driverFile string, driver []byte) (*OMBConversion, error) {
	var w ombWorkload
	if err := decodeOMB(workloadFile, "workload", workload, &w); err != nil {
		return nil, err
	}
	var d ombDriver
	if driverFile != "" {
		if err := decodeOMB(driverFile, "driver", driver, &d); err != nil {
			return nil, err
		}
	}
	c := &converter{wf: workloadFile, df: driverFile}
	p := c.workload(&w)
	c.driver(&d, p)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("write the converted profile: %w", err)
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "# Converted from the OpenMessaging Benchmark workload %s", filepath.Base(workloadFile))
	if driverFile != "" {
		fmt.Fprintf(&head, "\n# with the Kafka driver %s", filepath.Base(driverFile))
	}
	head.WriteString(".\n")
	for _, n := range c.notes {
		fmt.Fprintf(&head, "# - %s\n", n)
	}
	wname, dname := p.Name, "Kafka"
	if w.Name != nil {
		wname = *w.Name
	}
	if d.Name != nil {
		dname = *d.Name
	}
	return &OMBConversion{YAML: append(head.Bytes(), body.Bytes()...), Notes: c.notes, Workload: wname, Driver: dname, payloadFile: c.payloadFile, messageSize: c.messageSize}, nil
}

// LoadOMB reads an OMB workload file and an optional Kafka driver file and
// returns them as a validated profile, with the conversion's notes. Payload
// files are found relative to the workload file, as profile paths are.
func LoadOMB(workloadPath, driverPath string, set []string) (*Profile, *OMBConversion, error) {
	w, err := os.ReadFile(workloadPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read OMB workload: %w", err)
	}
	var d []byte
	if driverPath != "" {
		if d, err = os.ReadFile(driverPath); err != nil {
			return nil, nil, fmt.Errorf("read OMB driver: %w", err)
		}
	}
	conv, err := ConvertOMB(workloadPath, w, driverPath, d)
	if err != nil {
		return nil, nil, err
	}
	if conv.payloadFile != "" {
		// As OMB does: the payload file must be messageSize bytes.
		path := conv.payloadFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(workloadPath), path)
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: payloadFile: %w", workloadPath, err)
		}
		if fi.Size() != int64(conv.messageSize) {
			return nil, nil, fmt.Errorf("%s: payloadFile %s has %d bytes but messageSize is %d", workloadPath, conv.payloadFile, fi.Size(), conv.messageSize)
		}
	}
	p, err := Parse(workloadPath+" (as a kbench profile)", conv.YAML, Options{Set: set, Dir: filepath.Dir(workloadPath), Source: workloadPath})
	if err != nil {
		return nil, nil, err
	}
	return p, conv, nil
}

var ombLineRe = regexp.MustCompile(`line (\d+): field (\S+) not found in type`)

// decodeOMB decodes strictly, naming unknown fields and the known ones.
func decodeOMB(file, kind string, src []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: the OMB %s file is empty", file, kind)
	}
	var known []string
	for f := range reflect.TypeOf(v).Elem().Fields() {
		known = append(known, f.Tag.Get("yaml"))
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var msgs []string
		for _, e := range te.Errors {
			if m := ombLineRe.FindStringSubmatch(e); m != nil {
				msgs = append(msgs, fmt.Sprintf("%s:%s: unknown OMB %s field %q (kbench reads: %s)", file, m[1], kind, m[2], strings.Join(known, ", ")))
				continue
			}
			msgs = append(msgs, fmt.Sprintf("%s: %s", file, strings.TrimPrefix(e, "yaml: ")))
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	return fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
}

type converter struct {
	wf, df      string
	errs        []error
	notes       []string
	payloadFile string
	messageSize int
}

func (c *converter) errorf(file, field, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s: %s", file, field, fmt.Sprintf(format, args...)))
}

func (c *converter) workload(w *ombWorkload) *convProfile {
	p := &convProfile{Rate: "max-sustainable"}
	name := "omb"
	if w.Name != nil {
		p.Description = "OpenMessaging Benchmark workload: " + *w.Name
		name = slug(*w.Name)
	} else {
		p.Description = "OpenMessaging Benchmark workload " + filepath.Base(c.wf)
	}
	p.Name = name

	positive := func(field string, v *int, def int) int {
		switch {
		case v == nil && def > 0:
			return def
		case v == nil:
			c.errorf(c.wf, field, "required")
		case *v < 1:
			c.errorf(c.wf, field, "%d: want at least 1", *v)
		default:
			return *v
		}
		return 0
	}
	if t := positive("topics", w.Topics, 0); t > 1 {
		c.errorf(c.wf, "topics", "%d: kbench runs one topic per point; run the workload with topics: 1 (and partitionsPerTopic × %d partitions for the same partition count)", t, t)
	}
	p.Topic.Partitions = positive("partitionsPerTopic", w.PartitionsPerTopic, 0)

	switch kd := deref(w.KeyDistributor, "NO_KEY"); kd {
	case "NO_KEY":
		p.Workload.Keys = "none"
	case "KEY_ROUND_ROBIN":
		p.Workload.Keys = fmt.Sprintf("round-robin:%d", ombKeyCount)
	case "RANDOM_NANO":
		p.Workload.Keys = fmt.Sprintf("uniform:%d", ombKeyCount)
	default:
		c.errorf(c.wf, "keyDistributor", "%q: want NO_KEY, KEY_ROUND_ROBIN or RANDOM_NANO", kd)
	}

	size := positive("messageSize", w.MessageSize, 0)
	c.messageSize = size
	p.Workload.RecordSize = strconv.Itoa(size)
	switch {
	case deref(w.UseRandomizedPayloads, false):
		p.Workload.Payload = "random"
		ratio := deref(w.RandomBytesRatio, 0)
		if ratio < 0 || ratio > 1 {
			c.errorf(c.wf, "randomBytesRatio", "%g: want a share from 0 to 1", ratio)
		}
		comp := 1 - ratio
		p.Workload.Compressibility = &comp
		c.notes = append(c.notes, fmt.Sprintf("randomBytesRatio %g: %g of each value is random and the rest compressible (workload.compressibility %g)", ratio, ratio, comp))
		if w.RandomizedPayloadPoolSize != nil {
			c.notes = append(c.notes, "randomizedPayloadPoolSize: kbench generates every value afresh instead of drawing from a pool")
		}
	case w.PayloadFile != nil:
		// OMB sends the whole file as every message.
		p.Workload.Payload = "blob:" + *w.PayloadFile
		c.payloadFile = *w.PayloadFile
	default:
		c.errorf(c.wf, "payloadFile", "required unless useRandomizedPayloads is true")
	}

	subs := deref(w.SubscriptionsPerTopic, 1)
	switch {
	case subs < 0:
		c.errorf(c.wf, "subscriptionsPerTopic", "%d: want 0 (produce only) or 1", subs)
	case subs > 1:
		c.errorf(c.wf, "subscriptionsPerTopic", "%d: kbench consumes with one consumer group per run; use 1 (or 0 to only produce)", subs)
	case subs == 0:
		p.Workload.Mode = "produce"
	default:
		p.Workload.Mode = "e2e"
		p.Workload.Consumers = positive("consumerPerSubscription", w.ConsumerPerSubscription, 1)
	}
	p.Workload.Producers = positive("producersPerTopic", w.ProducersPerTopic, 1)

	if w.ProducerRate == nil {
		c.errorf(c.wf, "producerRate", "required (messages/s; 0 searches for the highest sustainable rate)")
	} else if r := *w.ProducerRate; r < 0 {
		c.errorf(c.wf, "producerRate", "%g: want messages/s, or 0 for the highest sustainable rate", r)
	} else if r > 0 {
		p.Rate = strconv.FormatFloat(r, 'f', -1, 64)
	}
	if w.ProducerStartRate != nil {
		if p.Rate != "max-sustainable" {
			c.notes = append(c.notes, "producerStartRate applies only to producerRate 0; ignored")
		} else if *w.ProducerStartRate <= 0 {
			c.errorf(c.wf, "producerStartRate", "%g: want messages/s above 0", *w.ProducerStartRate)
		} else {
			p.Search = &convSearch{Start: strconv.FormatFloat(*w.ProducerStartRate, 'f', -1, 64)}
		}
	}
	if p.Rate == "max-sustainable" {
		c.notes = append(c.notes, "producerRate 0: kbench searches for the highest rate whose runs are error-free, achieve 99 % of the target and keep consumer lag bounded (bisection, not OMB's ramp)")
	}

	for _, u := range ombUnsupported {
		if v := u.get(w); v != nil && *v != u.def {
			c.errorf(c.wf, u.field, "%g: %s (OMB's default %g is accepted)", *v, u.why, u.def)
		}
	}

	dur := deref(w.TestDurationMinutes, 0)
	if dur <= 0 {
		c.errorf(c.wf, "testDurationMinutes", "required, above 0")
	}
	p.Workload.Duration = minutes(dur)
	warm := deref(w.WarmupDurationMinutes, 1) // OMB's default
	if warm < 0 {
		c.errorf(c.wf, "warmupDurationMinutes", "%g: must not be negative", warm)
	}
	p.Workload.Warmup = minutes(warm)
	// OMB reports every logIntervalMillis (default 10 s).
	if ms := deref(w.LogIntervalMillis, 10000); ms <= 0 {
		c.errorf(c.wf, "logIntervalMillis", "%d: want a period above 0", ms)
	} else {
		p.Workload.Interval = (time.Duration(ms) * time.Millisecond).String()
	}
	c.backlog(w, p)
	return p
}

func (c *converter) driver(d *ombDriver, p *convProfile) {
	if c.df == "" {
		return
	}
	if d.DriverClass != nil && !strings.Contains(strings.ToLower(*d.DriverClass), ".kafka.") {
		c.errorf(c.df, "driverClass", "%q: kbench drives Kafka (io.openmessaging.benchmark.driver.kafka.KafkaBenchmarkDriver)", *d.DriverClass)
	}
	if d.ReplicationFactor != nil {
		rf := *d.ReplicationFactor
		if rf < 1 {
			c.errorf(c.df, "replicationFactor", "%d: want at least 1", rf)
		}
		p.Topic.ReplicationFactor = rf
		if rf > 1 {
			// On the embedded target the cluster needs as many brokers;
			// --bootstrap replaces the target.
			p.Target = &convTarget{Brokers: rf}
		}
	}
	if d.Reset != nil {
		c.notes = append(c.notes, "reset: kbench deletes and recreates its topic whenever the topic's settings change")
	}
	props := func(field string, s *string) map[string]string {
		if s == nil {
			return nil
		}
		m, err := parseJavaProperties(*s)
		if err != nil {
			c.errorf(c.df, field, "%v", err)
		}
		return m
	}
	p.Topic.Configs = props("topicConfig", d.TopicConfig)
	if common := props("commonConfig", d.CommonConfig); len(common) > 0 {
		if bs, ok := common["bootstrap.servers"]; ok {
			delete(common, "bootstrap.servers")
			c.notes = append(c.notes, fmt.Sprintf("commonConfig bootstrap.servers=%s is not used: the sweep runs on the embedded cluster, or on the cluster --bootstrap names", bs))
		}
		if len(common) > 0 {
			if p.Target == nil {
				p.Target = &convTarget{}
			}
			p.Target.Client = common
		}
	}
	p.Producer = props("producerConfig", d.ProducerConfig)
	p.Consumer = props("consumerConfig", d.ConsumerConfig)
}

// parseJavaProperties reads the key=value lines of a Java properties text
// (OMB's driver files embed them as YAML block strings): # and ! comments,
// = or : separators, surrounding blanks trimmed. Continuation lines and
// escapes are not used in driver files and are refused.
func parseJavaProperties(s string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			return nil, fmt.Errorf("line %d: continued lines are not supported", n)
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("line %d: %q is not key=value", n, line)
		}
		k, v := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("line %d: %s is set twice", n, k)
		}
		out[k] = v
	}
	return out, nil
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a profile name (lower-case letters, digits, dashes) of an OMB
// workload name such as "1 topic / 16 partitions / 1Kb".
func slug(s string) string {
	out := strings.Trim(slugRe.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(out) > 60 {
		out = strings.TrimRight(out[:60], "-")
	}
	if out == "" {
		return "omb"
	}
	return out
}

func minutes(m float64) string {
	return time.Duration(m * float64(time.Minute)).Round(time.Millisecond).String()
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
