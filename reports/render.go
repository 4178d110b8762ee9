package reports

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// chartSections are the report's chart kinds in order, with headings.
var chartSections = []struct{ kind, heading, about string }{
	{"durability", "Throughput vs durability", "Each durability level measured twice, apart: its capacity without faults, and what audited fault runs did to the records it acknowledged."},
	{"frontier", "Throughput vs latency by durability setting", "What each durability level costs: how much throughput at what p99."},
	{"spectrum", "Latency percentile spectrum", "The best point of each durability level (else its valid point with the lowest p99), service time against response time: the gap is the queueing that service time does not show (coordinated omission)."},
	{"codec", "Codec comparison", ""},
	{"heatmap", "linger.ms × batch.size", ""},
	{"partitions", "Partition scaling", ""},
	{"loss", "Durability audit: measured loss", ""},
	{"timeline", "Throughput and p99 over time", "One chart per point, from its histogram log: stalls and warmup effects show here."},
}

func (r *Report) chartsOf(kind string) []Chart {
	var out []Chart
	for _, c := range r.Charts {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// Markdown renders the report; charts are linked by file name, next to
// report.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	for _, f := range r.Facts {
		fmt.Fprintf(&b, "- **%s**: %s\n", f[0], f[1])
	}
	if r.Compared != nil {
		fmt.Fprintf(&b, "- **Compared with**: `%s` in [%s](%s) (%s)\n", r.ComparedWith, CompareMarkdown, CompareMarkdown, r.comparedAbout())
	}
	b.WriteString("\n")
	if len(r.Partial) > 0 {
		b.WriteString("## Incomplete run\n\n")
		for _, s := range r.Partial {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Best setting per durability level\n\n")
	fmt.Fprintf(&b, "Best: %s.\n\n", bestRule)
	bt := r.bestTable().withoutEmptyColumns()
	bt.markdown(&b)
	b.WriteString("\n## Results\n\n")
	b.WriteString("Every point of the profile in sweep order. Latencies are response time (from the intended send) unless named; " +
		"figures are medians over each point's counted runs. ★ best of its durability level, ≈ tied with it (see the rule above), ⚠ invalid (the load generator's own checks failed: " +
		"its figures are shown but not to be trusted), ✗ failed, … not run.\n\n")
	rt := r.resultsTable().withoutEmptyColumns()
	rt.markdown(&b)
	if ot, ok := r.outcomeTable(); ok {
		b.WriteString("\n## Durability under faults\n\n")
		b.WriteString(outcomeAbout + "\n\n")
		ot.markdown(&b)
	}
	if at, ok := r.auditTable(); ok {
		b.WriteString("\n## Durability audit\n\n")
		b.WriteString("Every acknowledged record read back after the run: lost = acknowledged but not readable, duplicated = readable more than once.\n\n")
		at.markdown(&b)
	}
	b.WriteString("\n## Charts\n")
	for _, sec := range chartSections {
		cs := r.chartsOf(sec.kind)
		if len(cs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n", sec.heading)
		if sec.about != "" {
			b.WriteString(sec.about + "\n\n")
		}
		for _, c := range cs {
			fmt.Fprintf(&b, "![%s](%s)\n\n%s ([SVG](%s))\n\n", oneLine(c.Title), filepath.Base(c.PNG), c.Caption, filepath.Base(c.SVG))
			if c.Name == frontierChartName {
				b.WriteString("**Reading.**\n\n")
				for _, line := range r.Reading {
					fmt.Fprintf(&b, "- %s\n", line)
				}
				b.WriteString("\n")
			}
		}
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\n### Charts not drawn\n\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	if len(r.Problems) > 0 {
		b.WriteString("\n### Problems\n\n")
		for _, s := range r.Problems {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	return b.String()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " — ") }

// comparedAbout says what the linked comparison holds.
func (r *Report) comparedAbout() string {
	return fmt.Sprintf("%d matched points: each figure's change with its confidence interval and significance, and overlaid percentile spectra", r.Compared.Points)
}

// htmlTable is a table as the HTML template sees it.
type htmlTable struct {
	Class string
	Head  []string
	Rows  []htmlRow
}

type htmlRow struct {
	Class string
	Cells []htmlCell
}

// htmlCell is a table cell; Num cells (figures) never wrap, the others
// wrap wherever they must so the table fits the page.
type htmlCell struct {
	Text string
	Num  bool
}

// numeric matches figures: 1.98, 4k/s, 16KiB, 12 %, –.
var numeric = regexp.MustCompile(`^(–|[-+~]?[0-9][0-9.,]*( ?[a-zA-Z%]{1,4}(/s)?)?)$`)

func (t table) html() htmlTable {
	out := htmlTable{}
	for _, h := range t.head {
		out.Head = append(out.Head, breakHead(h))
	}
	for i, row := range t.rows {
		cells := make([]htmlCell, len(row))
		for j, c := range row {
			cells[j] = htmlCell{Text: breakCell(c), Num: numeric.MatchString(c)}
		}
		out.Rows = append(out.Rows, htmlRow{Class: t.class[i], Cells: cells})
	}
	return out
}

// breakHead and breakCell let a browser wrap long words (a setting label
// such as acks=all/replication.factor=3) after "/", "=" and, in headings,
// "." (a zero-width space), so wide tables fit the page without breaking
// short words, formulas or numbers.
func breakHead(s string) string { return breakLong(s, headBreaks) }
func breakCell(s string) string { return breakLong(s, cellBreaks) }

var (
	headBreaks = strings.NewReplacer("/", "/\u200b", ".", ".\u200b", "=", "=\u200b")
	cellBreaks = strings.NewReplacer("/", "/\u200b", "=", "=\u200b")
)

// longWord is the length from which a word gets break points.
const longWord = 12

func breakLong(s string, r *strings.Replacer) string {
	words := strings.Split(s, " ")
	for i, w := range words {
		if len(w) >= longWord {
			words[i] = r.Replace(w)
		}
	}
	return strings.Join(words, " ")
}

// htmlCompare is the header's link to the comparison with another run.
type htmlCompare struct{ With, Href, About string }

type htmlChart struct {
	Title, Caption, SVG string
	Src                 template.URL
	// Reading is the plain-words reading shown under the chart.
	Reading []string
}

type htmlSection struct {
	Heading, About string
	Charts         []htmlChart
}

// HTML renders the report as one self-contained page: styles inline,
// charts embedded as data: URIs, no scripts, nothing fetched.
func (r *Report) HTML() ([]byte, error) {
	data := struct {
		Title    string
		Facts    [][2]string
		Compare  *htmlCompare
		Partial  []string
		BestRule string
		Best     htmlTable
		Results  htmlTable
		Audit    *htmlTable
		Outcomes *htmlTable
		About    string
		Sections []htmlSection
		Skipped  []string
		Problems []string
	}{Title: r.Title, Facts: r.Facts, Partial: r.Partial, BestRule: bestRule, Skipped: r.Skipped, Problems: r.Problems}
	if r.Compared != nil {
		data.Compare = &htmlCompare{With: r.ComparedWith, Href: CompareMarkdown, About: r.comparedAbout()}
	}
	data.Best = r.bestTable().withoutEmptyColumns().html()
	data.Results = r.resultsTable().withoutEmptyColumns().html()
	data.Results.Class = "results"
	if at, ok := r.auditTable(); ok {
		h := at.html()
		data.Audit = &h
	}
	if ot, ok := r.outcomeTable(); ok {
		h := ot.html()
		data.Outcomes, data.About = &h, outcomeAbout
	}
	for _, sec := range chartSections {
		cs := r.chartsOf(sec.kind)
		if len(cs) == 0 {
			continue
		}
		hs := htmlSection{Heading: sec.heading, About: sec.about}
		for _, c := range cs {
			src, err := dataURI(c.PNG)
			if err != nil {
				return nil, err
			}
			hc := htmlChart{Title: oneLine(c.Title), Caption: c.Caption, SVG: filepath.Base(c.SVG), Src: src}
			if c.Name == frontierChartName {
				hc.Reading = r.Reading
			}
			hs.Charts = append(hs.Charts, hc)
		}
		data.Sections = append(data.Sections, hs)
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render report html: %w", err)
	}
	return buf.Bytes(), nil
}

func dataURI(png string) (template.URL, error) {
	b, err := os.ReadFile(png)
	if err != nil {
		return "", fmt.Errorf("embed chart: %w", err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b)), nil
}

// pageStyle is shared by report.html and plan.html.
const pageStyle = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ccc; padding-bottom: .3em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .8em; margin: .5em 0; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: .2em .3em; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
td.num { white-space: nowrap; overflow-wrap: normal; }
table.results td:last-child { min-width: 10em; }
.reading { background: #f4f8ff; border-left: 4px solid #4a78c0; padding: .3em 1em; max-width: 70em; }
th { background: #f0f0f0; position: sticky; top: 0; }
tr.best td { background: #e3f6e3; font-weight: 600; }
tr.invalid td { background: #fff1d6; }
tr.failed td { background: #fde2e2; }
tr.missing td { color: #888; font-style: italic; }
.warn { background: #fff6e0; border-left: 4px solid #e0a000; padding: .5em 1em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; max-width: 60em; }
.formula { font-family: ui-monospace, "Liberation Mono", monospace; font-size: .9em; }
`

var reportTemplate = template.Must(template.New("report").Parse(`{{template "head" .Title}}
<body>
<h1>{{.Title}}</h1>
<dl class="facts">{{range .Facts}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}{{with .Compare}}<dt>Compared with</dt><dd><code>{{.With}}</code> in <a href="{{.Href}}">{{.Href}}</a> ({{.About}})</dd>{{end}}</dl>
{{if .Partial}}<h2>Incomplete run</h2>
<div class="warn"><ul>{{range .Partial}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
<h2>Best setting per durability level</h2>
<p>Best: {{.BestRule}}.</p>
{{template "table" .Best}}
<h2>Results</h2>
<p>Every point of the profile in sweep order. Latencies are response time (from the intended send) unless named; figures are medians over each point's counted runs.
★ best of its durability level (green), ≈ tied with it (see the rule above), ⚠ invalid (amber: the load generator's own checks failed, its figures are not to be trusted), ✗ failed (red), … not run (grey).</p>
{{template "table" .Results}}
{{with .Outcomes}}<h2>Durability under faults</h2>
<p>{{$.About}}</p>
{{template "table" .}}{{end}}
{{with .Audit}}<h2>Durability audit</h2>
<p>Every acknowledged record read back after the run: lost = acknowledged but not readable, duplicated = readable more than once.</p>
{{template "table" .}}{{end}}
<h2>Charts</h2>
{{range .Sections}}<h3>{{.Heading}}</h3>
{{if .About}}<p>{{.About}}</p>{{end}}
{{range .Charts}}<figure><img src="{{.Src}}" alt="{{.Title}}"><figcaption><b>{{.Title}}.</b> {{.Caption}} (<a href="{{.SVG}}">SVG</a>)</figcaption></figure>
{{if .Reading}}<div class="reading"><b>Reading.</b><ul>{{range .Reading}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{end}}{{end}}
{{if .Skipped}}<h3>Charts not drawn</h3><ul>{{range .Skipped}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Problems}}<h3>Problems</h3><ul>{{range .Problems}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.}}</title>
<style>` + pageStyle + `</style>
</head>
{{end}}
{{define "table"}}<div class="scroll"><table{{if .Class}} class="{{.Class}}"{{end}}>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr{{if .Class}} class="{{.Class}}"{{end}}>{{range .Cells}}<td{{if .Num}} class="num"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table></div>{{end}}
`))
