package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Plan files.
const (
	PlanMarkdown = "plan.md"
	PlanHTML     = "plan.html"
	PlanJSON     = "plan.json"
)

// PlanSettings are the plan's inputs as the user gave them: zero values
// take the defaults, or the measured figures of From.
type PlanSettings struct {
	Input CapacityInput
	// Given lists the inputs set explicitly (by flag name), so the plan
	// says which values are defaults.
	Given map[string]bool
	// From is the run measured for ceilings, codec ratio and producer
	// settings; nil for none.
	From *Run
}

// InputRow is one input of the plan with where its value came from.
type InputRow struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// PlanDoc is a finished capacity plan, ready to render.
type PlanDoc struct {
	Title    string           `json:"title"`
	From     string           `json:"from,omitempty"`
	Inputs   []InputRow       `json:"inputs"`
	Input    CapacityInput    `json:"-"`
	Capacity *Capacity        `json:"-"`
	Outputs  []Formula        `json:"outputs"`
	Recs     []Recommendation `json:"producer_settings"`
	Notes    []string         `json:"notes,omitempty"`
	Summary  PlanSummary      `json:"summary"`
}

// PlanSummary is the plan's headline numbers.
type PlanSummary struct {
	Partitions       int     `json:"partitions"`
	PartitionsAtPeak int     `json:"partitions_at_peak"`
	Brokers          int     `json:"brokers"`
	BrokersLimiting  string  `json:"brokers_limited_by"`
	StoredTB         float64 `json:"stored_tb"`
	RawDiskTB        float64 `json:"raw_disk_tb"`
	DiskPerBrokerGB  float64 `json:"disk_per_broker_gb"`
	NetInMBps        float64 `json:"network_in_per_broker_mb_s"`
	NetOutMBps       float64 `json:"network_out_per_broker_mb_s"`
}

// MakePlan fills unset inputs from the run (ceilings, compression ratio)
// or the defaults, computes the plan and assembles the document.
func MakePlan(ps PlanSettings) (*PlanDoc, error) {
	in := ps.Input
	given := func(name string) bool { return ps.Given[name] }
	d := DefaultCapacityInput()
	doc := &PlanDoc{Title: "kbench capacity plan"}
	src := map[string]string{}
	def := func(name string, set bool) {
		if set {
			src[name] = "given"
		} else {
			src[name] = "default"
		}
	}
	defaultFloat := func(name string, field *float64, v float64) {
		if !given(name) {
			*field = v
		}
		def(name, given(name))
	}
	defaultInt := func(name string, field *int, v int) {
		if !given(name) {
			*field = v
		}
		def(name, given(name))
	}
	defaultFloat("record-size", &in.RecordBytes, d.RecordBytes)
	if !given("retention") {
		in.Retention = d.Retention
	}
	def("retention", given("retention"))
	defaultInt("rf", &in.RF, d.RF)
	defaultInt("min-insync", &in.MinISR, min(d.MinISR, in.RF))
	defaultInt("consumer-groups", &in.ConsumerGroups, d.ConsumerGroups)
	defaultFloat("headroom", &in.Headroom, d.Headroom)
	defaultFloat("disk-util", &in.DiskUtil, d.DiskUtil)
	defaultFloat("broker-disk-mbps", &in.BrokerDiskMBps, d.BrokerDiskMBps)
	defaultFloat("broker-network-mbps", &in.BrokerNetMBps, d.BrokerNetMBps)
	defaultFloat("broker-disk-gb", &in.BrokerDiskGB, d.BrokerDiskGB)
	src["peak"] = "given"
	if in.AvgEventsPerSec == 0 {
		src["avg"] = "default: the peak (conservative)"
	} else {
		src["avg"] = "given"
	}

	var m *Measured
	if ps.From != nil {
		m = Measure(ps.From, in.RF)
		doc.From = ps.From.Dir
	}
	measuredAt := func(p *Point) string {
		return fmt.Sprintf("measured: %s, %s", filepath.Base(filepath.Clean(ps.From.Dir)), p.Name())
	}
	def("produce-per-partition", given("produce-per-partition"))
	if !given("produce-per-partition") {
		in.ProducePerPartition = 0
		if m != nil && m.ProducePerPartition > 0 {
			in.ProducePerPartition = m.ProducePerPartition
			src["produce-per-partition"] = measuredAt(m.CeilingFrom) + " (" + m.CeilingNote + ")"
			if conv, note := byBytes(m.ProduceMBpsPerPartition, m.RecordBytes, in.RecordBytes); note != "" {
				in.ProducePerPartition = conv
				src["produce-per-partition"] += "; " + note
			}
		} else {
			src["produce-per-partition"] = "unknown"
		}
	}
	def("consume-per-partition", given("consume-per-partition"))
	if !given("consume-per-partition") {
		in.ConsumePerPartition = 0
		if m != nil && m.ConsumePerPartition > 0 {
			in.ConsumePerPartition = m.ConsumePerPartition
			src["consume-per-partition"] = measuredAt(m.CeilingFrom) + " — a lower bound: an e2e run consumes only what it produces; " +
				"give --consume-per-partition with the rate one consumer of your application processes"
			if conv, note := byBytes(m.ConsumeMBpsPerPartition, m.RecordBytes, in.RecordBytes); note != "" {
				in.ConsumePerPartition = conv
				src["consume-per-partition"] += "; " + note
			}
		} else {
			src["consume-per-partition"] = "unknown"
		}
	}
	def("compression-ratio", given("compression-ratio"))
	if !given("compression-ratio") {
		in.CompressionRatio = 1
		src["compression-ratio"] = "default: 1 (no compression assumed)"
		if m != nil && m.CompressionRatio > 0 {
			in.CompressionRatio = m.CompressionRatio
			src["compression-ratio"] = "measured: " + m.RatioNote
		}
	}

	c, err := SizeCluster(in)
	if err != nil {
		return nil, err
	}
	doc.Input, doc.Capacity, doc.Outputs = in, c, c.Figures
	avg := "= peak"
	if in.AvgEventsPerSec > 0 {
		avg = num(in.AvgEventsPerSec) + " events/s"
	}
	ceiling := func(v float64) string {
		if v <= 0 {
			return "unknown"
		}
		return fmt.Sprintf("%s events/s (%s MB/s)", num(v), num(v*in.RecordBytes/MB))
	}
	doc.Inputs = []InputRow{
		{"peak ingress (T)", fmt.Sprintf("%s events/s (%s MB/s)", num(in.PeakEventsPerSec), num(c.PeakMBps)), src["peak"]},
		{"average ingress", avg, src["avg"]},
		{"record size", num(in.RecordBytes) + " B", src["record-size"]},
		{"retention", retentionText(in.Retention), src["retention"]},
		{"replication factor", fmt.Sprint(in.RF), src["rf"]},
		{"min.insync.replicas", fmt.Sprint(in.MinISR), src["min-insync"]},
		{"consumer groups (read fan-out)", fmt.Sprint(in.ConsumerGroups), src["consumer-groups"]},
		{"growth headroom", "×" + num(in.Headroom), src["headroom"]},
		{"target disk utilisation", fmt.Sprintf("%s %%", num(100*in.DiskUtil)), src["disk-util"]},
		{"broker disk throughput", num(in.BrokerDiskMBps) + " MB/s", src["broker-disk-mbps"]},
		{"broker network throughput", num(in.BrokerNetMBps) + " MB/s (each direction)", src["broker-network-mbps"]},
		{"broker disk size", num(in.BrokerDiskGB) + " GB", src["broker-disk-gb"]},
		{"produce ceiling per partition (p)", ceiling(in.ProducePerPartition), src["produce-per-partition"]},
		{"consume ceiling per partition (c)", ceiling(in.ConsumePerPartition), src["consume-per-partition"]},
		{"compression ratio", num(in.CompressionRatio), src["compression-ratio"]},
	}
	if m != nil {
		doc.Recs = m.Recommendations
	} else {
		doc.Recs = recommend(nil)
	}
	doc.Summary = PlanSummary{
		Partitions: c.Partitions, PartitionsAtPeak: c.PartitionsAtPeak, Brokers: c.Brokers, BrokersLimiting: c.BrokersLimiting,
		StoredTB: c.StoredTB, RawDiskTB: c.RawDiskTB, DiskPerBrokerGB: c.DiskPerBrokerGB,
		NetInMBps: c.NetInPerBrokerMBps, NetOutMBps: c.NetOutPerBrokerMBps,
	}
	doc.Notes = append(doc.Notes,
		"MB = 10^6 bytes; throughputs are per second. Disk and network figures use compressed bytes (÷ the compression ratio); "+
			"the per-partition ceilings are in uncompressed events.",
		"Per-broker limits are inputs: measure your brokers' disks (fio) and network (iperf3), or take your cloud's published figures.",
		fmt.Sprintf("A common rule of thumb: start at peak ÷ single-consumer throughput (%d partitions here), then over-provision 2–3× for growth; every partition costs file handles, controller metadata and rebalance time.", c.PartitionsAtPeak),
	)
	if in.ProducePerPartition == 0 || in.ConsumePerPartition == 0 {
		doc.Notes = append(doc.Notes, "Only one per-partition ceiling is known; the partition count rests on it alone.")
	}
	if c.DiskPerBrokerGB > in.BrokerDiskGB*1.0001 {
		doc.Notes = append(doc.Notes, "Disk per broker exceeds the broker disk size: check the inputs.")
	}
	return doc, nil
}

// byBytes converts a per-partition ceiling measured at one record size to
// events/s at the plan's, assuming the partition is byte-bound; note is
// empty when no conversion is needed or possible.
func byBytes(mbps, measuredBytes, planBytes float64) (float64, string) {
	if mbps <= 0 || measuredBytes <= 0 || measuredBytes == planBytes {
		return 0, ""
	}
	return mbps * MB / planBytes, fmt.Sprintf("measured at %s B records (%s MB/s): converted by bytes to the plan's %s B records",
		num(measuredBytes), num(mbps), num(planBytes))
}

func retentionText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days (%s s)", d/(24*time.Hour), num(d.Seconds()))
	}
	return fmt.Sprintf("%s (%s s)", d, num(d.Seconds()))
}

// Markdown renders the plan.
func (d *PlanDoc) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Title)
	if d.From != "" {
		fmt.Fprintf(&b, "Measured figures from the run `%s`.\n\n", filepath.Base(filepath.Clean(d.From)))
	}
	s := d.Summary
	fmt.Fprintf(&b, "**%d partitions** (%d at today's peak), **%d brokers** (limited by %s), **%s GB disk per broker** (%s TB stored, %s TB raw), "+
		"**%s MB/s in and %s MB/s out per broker**.\n\n",
		s.Partitions, s.PartitionsAtPeak, s.Brokers, s.BrokersLimiting, num(s.DiskPerBrokerGB), num(s.StoredTB), num(s.RawDiskTB), num(s.NetInMBps), num(s.NetOutMBps))
	b.WriteString("## Inputs\n\n")
	it := table{head: []string{"input", "value", "source"}}
	for _, r := range d.Inputs {
		it.add("", r.Name, r.Value, r.Source)
	}
	it.markdown(&b)
	b.WriteString("\n## Results\n\n")
	ot := d.outputTable()
	ot.markdown(&b)
	for _, f := range d.Outputs {
		if f.Note != "" {
			fmt.Fprintf(&b, "\n**%s**: %s\n", f.Name, f.Note)
		}
	}
	b.WriteString("\n## Recommended producer settings\n\n")
	rt := d.recTable()
	rt.markdown(&b)
	b.WriteString("\n## Notes\n\n")
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	return b.String()
}

func (d *PlanDoc) outputTable() table {
	t := table{head: []string{"output", "value", "formula", "with these inputs"}}
	for _, f := range d.Outputs {
		class := ""
		if f.Name == "partitions" || f.Name == "brokers" || f.Name == "disk per broker" {
			class = "best"
		}
		unit := f.Unit
		if f.Value == 1 && strings.HasSuffix(unit, "s") && !strings.HasSuffix(unit, "/s") {
			unit = strings.TrimSuffix(unit, "s")
		}
		t.add(class, f.Name, num(f.Value)+" "+unit, f.Formula, f.With)
	}
	return t
}

func (d *PlanDoc) recTable() table {
	t := table{head: []string{"setting", "value", "why", "measured cost here"}}
	for _, r := range d.Recs {
		cost := "not measured in this run"
		if len(r.Costs) > 0 {
			cost = strings.Join(r.Costs, "; ")
		} else if d.From == "" {
			cost = "no run given (--from)"
		}
		t.add("", r.Setting, r.Value, r.Why, cost)
	}
	return t
}

// JSON renders the plan as indented JSON.
func (d *PlanDoc) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return append(b, '\n'), nil
}

// HTML renders the plan as one self-contained page.
func (d *PlanDoc) HTML() ([]byte, error) {
	notes := []string{}
	for _, f := range d.Outputs {
		if f.Note != "" {
			notes = append(notes, f.Name+": "+f.Note)
		}
	}
	data := struct {
		*PlanDoc
		Headline    string
		InputTable  htmlTable
		OutputTable htmlTable
		RecTable    htmlTable
		OutputNotes []string
		FromBase    string
	}{PlanDoc: d, OutputNotes: notes}
	s := d.Summary
	data.Headline = fmt.Sprintf("%d partitions (%d at today's peak), %d brokers (limited by %s), %s GB disk per broker, %s MB/s in and %s MB/s out per broker.",
		s.Partitions, s.PartitionsAtPeak, s.Brokers, s.BrokersLimiting, num(s.DiskPerBrokerGB), num(s.NetInMBps), num(s.NetOutMBps))
	it := table{head: []string{"input", "value", "source"}}
	for _, r := range d.Inputs {
		it.add("", r.Name, r.Value, r.Source)
	}
	data.InputTable = it.html()
	data.OutputTable = d.outputTable().html()
	data.RecTable = d.recTable().html()
	if d.From != "" {
		data.FromBase = filepath.Base(filepath.Clean(d.From))
	}
	var buf bytes.Buffer
	if err := planTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render plan html: %w", err)
	}
	return buf.Bytes(), nil
}

var planTemplate = template.Must(template.Must(reportTemplate.Clone()).New("plan").Parse(`{{template "head" .Title}}
<body>
<h1>{{.Title}}</h1>
{{if .FromBase}}<p>Measured figures from the run <code>{{.FromBase}}</code>.</p>{{end}}
<p><b>{{.Headline}}</b></p>
<h2>Inputs</h2>
{{template "table" .InputTable}}
<h2>Results</h2>
{{template "table" .OutputTable}}
{{range .OutputNotes}}<p>{{.}}</p>{{end}}
<h2>Recommended producer settings</h2>
{{template "table" .RecTable}}
<h2>Notes</h2>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
</body>
</html>
`))

// WritePlan writes plan.md, plan.html and plan.json into dir.
func WritePlan(dir string, d *PlanDoc) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plan directory: %w", err)
	}
	html, err := d.HTML()
	if err != nil {
		return err
	}
	js, err := d.JSON()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{PlanMarkdown, []byte(d.Markdown())}, {PlanHTML, html}, {PlanJSON, js}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.b, 0o644); err != nil {
			return fmt.Errorf("write plan: %w", err)
		}
	}
	return nil
}
