package profiles

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kbench/kbench/bench/faults"
)

// Frontier measures every point the throughput-versus-durability way, in
// runs kept apart so that a fault never colours a capacity figure:
//
//  1. capacity, without faults: the max-sustainable search (the point's
//     rate must be max-sustainable), then one run at the common Rate for
//     steady-state p50/p99;
//  2. outcome, one audited run at Rate per scenario: its faults (times
//     after the warmup, healed when the load ends), then the read-back:
//     acknowledged records lost or duplicated, records the client was
//     refused, and the longest wait without an acknowledgement.
type Frontier struct {
	// Rate is the common fixed rate (records/s) of the steady run and of
	// every scenario run, so levels are compared at the same load.
	Rate      float64    `json:"rate"`
	Scenarios []Scenario `json:"scenarios"`
}

// Scenario is one named fault schedule of a frontier.
type Scenario struct {
	Name   string          `json:"name"`
	Faults faults.Schedule `json:"faults"`
}

type rawFrontier struct {
	Rate      yaml.Node `yaml:"rate"`
	Scenarios yaml.Node `yaml:"scenarios"`
}

type rawScenario struct {
	Name   yaml.Node `yaml:"name"`
	Faults yaml.Node `yaml:"faults"`
}

// frontier reads and checks the frontier section.
func (p *parser) frontier(prof *Profile, raw *rawProfile) {
	rf := raw.Frontier
	if rf == nil {
		return
	}
	f := &Frontier{}
	if !present(&rf.Rate) {
		p.errorf(nil, "frontier.rate", "missing: the common fixed rate (records/s) of the steady and the fault runs")
	} else if v, ok := p.scalar(&rf.Rate, "frontier.rate"); ok {
		r, err := parseCount(v)
		if err != nil || r <= 0 {
			p.errorf(&rf.Rate, "frontier.rate", "%q: want records/s above 0 (2000, 2.5k)", v)
		}
		f.Rate = r
	}
	n := resolve(&rf.Scenarios)
	if !present(n) || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "frontier.scenarios", "want a list of {name: ..., faults: [...]}, at least one")
		return
	}
	for i, item := range n.Content {
		path := fmt.Sprintf("frontier.scenarios[%d]", i)
		var rs rawScenario
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			p.errorf(item, path, "got %s, want a mapping with fields name, faults", kindOf(item))
			continue
		}
		for j := 0; j+1 < len(item.Content); j += 2 {
			if k := item.Content[j].Value; k != "name" && k != "faults" {
				p.errorf(item.Content[j], path+"."+k, "unknown field; valid fields here: name, faults")
			}
		}
		if err := item.Decode(&rs); err != nil {
			p.errorf(item, path, "%v", err)
			continue
		}
		var sc Scenario
		if v, ok := p.scalar(&rs.Name, path+".name"); ok && strings.TrimSpace(v) != "" {
			sc.Name = strings.TrimSpace(v)
		} else {
			p.errorf(item, path+".name", "missing: name the scenario (it labels the report)")
		}
		if slices.ContainsFunc(f.Scenarios, func(o Scenario) bool { return o.Name == sc.Name }) {
			p.errorf(&rs.Name, path+".name", "%q is given twice", sc.Name)
		}
		if !present(&rs.Faults) {
			p.errorf(item, path+".faults", "missing: a list of faults (10s:kill-leader:0)")
			continue
		}
		sc.Faults = p.schedule(&rs.Faults, path+".faults")
		p.checkFaults(prof, sc.Faults, &rs.Faults, path+".faults")
		f.Scenarios = append(f.Scenarios, sc)
	}
	if len(prof.Faults) > 0 || prof.Audit {
		p.errorf(nil, "frontier", "runs its own audited fault scenarios: drop the top-level faults and audit")
	}
	for _, pt := range prof.Points {
		if pt.Rate.Kind != RateMaxSustainable {
			p.errorf(nil, "frontier", "measures capacity by the max-sustainable search: point %s (%s) has rate %s; set rate: max-sustainable", pt.ID, pt.Label, pt.Rate)
			break
		}
	}
	prof.Frontier = f
}
