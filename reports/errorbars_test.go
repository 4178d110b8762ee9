package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/stats"
)

// Each run copied by withRepeats gains two repetitions per counted or
// steady run: every figure at (1 - d) and (1 + d) of its value, d being
// cpuD for cpu_cores and figD for the others, so each figure's median
// stays the measured one and its range is known.
const figD, cpuD = 0.1, 0.2

func repeatFactor(name string, sign float64) float64 {
	if name == "cpu_cores" {
		return 1 + sign*cpuD
	}
	return 1 + sign*figD
}

// withRepeats copies a real run directory's manifest and results into a
// temporary one where each point has three repetitions, and loads it.
func withRepeats(t *testing.T, src string) *Run {
	t.Helper()
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(src, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	lines, _, err := sweep.ReadResultsFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, l := range lines {
		var runs []sweep.RunSummary
		for _, r := range l.Runs {
			runs = append(runs, r)
			if !r.Counted && r.Phase != sweep.PhaseSteady {
				continue
			}
			for _, sign := range []float64{-1, 1} {
				c := r
				c.Figures = map[string]float64{}
				for k, v := range r.Figures {
					c.Figures[k] = v * repeatFactor(k, sign)
				}
				runs = append(runs, c)
			}
		}
		l.Runs = runs
		vals := map[string][]float64{}
		for _, r := range runs {
			prefix := ""
			if r.Phase == sweep.PhaseSteady {
				prefix = sweep.SteadyPrefix
			} else if !r.Counted {
				continue
			}
			for k, v := range r.Figures {
				vals[prefix+k] = append(vals[prefix+k], v)
			}
		}
		for k, xs := range vals {
			s := stats.Summarize(xs)
			l.Figures[k] = sweep.Stat{N: s.N, Median: s.Median, Min: s.Min, Max: s.Max, SpreadPct: 100 * s.Spread()}
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, sweep.ResultsFile), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// eachRepeats runs test as two subtests: on the run directory src as it
// is, and with withRepeats' repetitions added.
func eachRepeats(t *testing.T, src string, test func(t *testing.T, run *Run, repeats bool)) {
	for _, repeats := range []bool{true, false} {
		name := "single runs"
		if repeats {
			name = "repeats"
		}
		t.Run(name, func(t *testing.T) {
			if repeats {
				test(t, withRepeats(t, src), true)
				return
			}
			run, err := LoadRun(src)
			if err != nil {
				t.Fatal(err)
			}
			test(t, run, false)
		})
	}
}

func checkInterval(t *testing.T, what string, got interval, mid, lo, hi float64) {
	t.Helper()
	if !near(got.mid, mid) || !near(got.lo, lo) || !near(got.hi, hi) {
		t.Errorf("%s: interval %g [%g, %g], want %g [%g, %g]", what, got.mid, got.lo, got.hi, mid, lo, hi)
	}
}

// The codec bars carry error bars over each point's runs: the runs' range
// of the panel's own figure, CPU per MiB computed run by run.
func TestCodecSpread(t *testing.T) {
	eachRepeats(t, smallRun, func(t *testing.T, run *Run, repeats bool) {
		groups := codecGroups(run.Points)
		if len(groups) == 0 {
			t.Fatal("no codec group")
		}
		bars := 0
		for _, g := range groups {
			for mi, m := range codecMetrics(false) {
				for _, size := range g.sizes {
					vals, spread := codecBars(g, m, size)
					if !repeats {
						if len(spread) != 0 {
							t.Fatalf("%s at %d: error bars %v without repeats", m.title, size, spread)
						}
						continue
					}
					k := 0
					for j, c := range g.codecs {
						pt := g.at[codecKey(c, size)]
						if pt == nil || vals[j] == 0 {
							continue
						}
						if _, measured := pt.Fig("compression_ratio"); mi == 0 && !measured {
							continue // codec none: a ratio of 1 by definition, no runs behind it
						}
						if k >= len(spread) || spread[k].at != float64(j) {
							t.Fatalf("%s %s at %d: no error bar (got %v)", m.title, c, size, spread)
						}
						v := vals[j]
						lo, hi := v*(1-figD), v*(1+figD)
						if mi == 2 { // core-ms per MiB: each run's cores over its MiB/s
							lo, hi = v*(1-cpuD)/(1-figD), v*(1+cpuD)/(1+figD)
						}
						checkInterval(t, m.title+" "+c, spread[k], v, lo, hi)
						k++
						bars++
					}
					if k != len(spread) {
						t.Fatalf("%s at %d: %d error bars, want %d", m.title, size, len(spread), k)
					}
				}
			}
		}
		if repeats && bars == 0 {
			t.Fatal("no error bars with repeats")
		}
		for _, g := range groups {
			if _, caption, err := codecChart(g); err != nil {
				t.Fatal(err)
			} else if got := strings.Contains(caption, "Error bars"); got != repeats {
				t.Fatalf("caption mentions error bars: %v, want %v (%s)", got, repeats, caption)
			}
		}
	})
}

// Heatmap cells show the median and, with repeats, ± half the runs'
// range as a share of it.
func TestHeatCellSpread(t *testing.T) {
	eachRepeats(t, smallRun, func(t *testing.T, run *Run, repeats bool) {
		groups := heatGroups(run.Points)
		if len(groups) == 0 {
			t.Fatal("no heatmap group")
		}
		cells := 0
		for _, g := range groups {
			for _, m := range heatMetrics() {
				for _, p := range g.at {
					v, ok := p.Fig(m.fig)
					if !ok {
						continue
					}
					want := formatFig(v)
					if repeats {
						want += " ±10%"
					}
					if got, ranged := heatCell(p, m.fig); got != want || ranged != repeats {
						t.Errorf("%s %s: cell %q (ranged %v), want %q", p.Def.ID, m.name, got, ranged, want)
					}
					cells++
				}
				if _, caption, err := heatChart(g, m); err != nil {
					t.Fatal(err)
				} else if got := strings.Contains(caption, "±: half the range"); got != repeats {
					t.Fatalf("caption explains ±: %v, want %v (%s)", got, repeats, caption)
				}
			}
		}
		if cells == 0 {
			t.Fatal("no cells")
		}
	})
}

// The durability frontier's capacity gets horizontal error bars and the
// p99 cost bars vertical ones, over each level's repetitions.
func TestFrontierSpread(t *testing.T) {
	eachRepeats(t, frontierRun, func(t *testing.T, run *Run, repeats bool) {
		levels := frontierOutcomes(run.Points, run.Manifest.Profile.Frontier)
		if len(levels) < 3 {
			t.Fatalf("%d levels, want 3", len(levels))
		}
		capacity := capacitySpread(levels, zeroBaseline(levels))
		cost := costData(levels)
		if !repeats {
			if len(capacity) != 0 || len(cost.p50Rng) != 0 || len(cost.p99Rng) != 0 {
				t.Fatalf("error bars without repeats: capacity %v, p50 %v, p99 %v", capacity, cost.p50Rng, cost.p99Rng)
			}
			return
		}
		if len(capacity) != len(levels) || len(cost.p99Rng) != len(cost.names) || len(cost.p50Rng) != len(cost.names) {
			t.Fatalf("%d capacity, %d p50 and %d p99 error bars for %d levels (%d with a steady run)",
				len(capacity), len(cost.p50Rng), len(cost.p99Rng), len(levels), len(cost.names))
		}
		for i, l := range levels {
			checkInterval(t, l.Level+" capacity", capacity[i], l.MaxMiBps, l.MaxMiBps*(1-figD), l.MaxMiBps*(1+figD))
			if capacity[i].at != lossY(l, zeroBaseline(levels)) {
				t.Errorf("%s: capacity bar at y %g, want the point's %g", l.Level, capacity[i].at, lossY(l, zeroBaseline(levels)))
			}
		}
		for i := range cost.names {
			checkInterval(t, cost.names[i]+" p50", cost.p50Rng[i], cost.p50[i], cost.p50[i]*(1-figD), cost.p50[i]*(1+figD))
			checkInterval(t, cost.names[i]+" p99", cost.p99Rng[i], cost.p99[i], cost.p99[i]*(1-figD), cost.p99[i]*(1+figD))
		}
		if _, caption := durabilityFrontierChart(levels); !strings.Contains(caption, "Horizontal error bars") {
			t.Fatalf("frontier caption does not explain its error bars: %s", caption)
		}
		if _, caption := p99CostChart(levels); !strings.Contains(caption, "Error bars") {
			t.Fatalf("cost caption does not explain its error bars: %s", caption)
		}
	})
}
