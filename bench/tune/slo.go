package tune

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseSLO reads an SLO like "p99<=20ms", "p99<=20ms,p99.9<=50ms" or
// "e2e p99<=50ms" (the histogram first: response, the default, service or
// e2e) into profile overrides of the slo section; bounds not named are
// cleared. Every error names the part it is about.
func ParseSLO(s string) ([]string, error) {
	bounds := map[string]string{"p50": "0", "p99": "0", "p99.9": "0"}
	latency := ""
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--slo is empty: want bounds like p99<=20ms")
	}
	for _, term := range strings.Split(s, ",") {
		part := strings.TrimSpace(term)
		if hist, rest, ok := strings.Cut(part, " "); ok && !strings.Contains(hist, "<") && bounds[hist] == "" {
			switch hist {
			case "response", "service", "e2e":
			default:
				return nil, fmt.Errorf("--slo %q: %q is not a latency histogram; valid: response, service, e2e", term, hist)
			}
			if latency != "" && latency != hist {
				return nil, fmt.Errorf("--slo %q: one histogram for every bound (%s and %s given)", term, latency, hist)
			}
			latency, part = hist, strings.TrimSpace(rest)
		}
		name, val, ok := strings.Cut(part, "<=")
		if !ok {
			name, val, ok = strings.Cut(part, "<")
		}
		if !ok {
			return nil, fmt.Errorf("--slo %q: want PERCENTILE<=LIMIT, like p99<=20ms", term)
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if _, known := bounds[name]; !known {
			return nil, fmt.Errorf("--slo %q: unknown percentile %q; valid: p50, p99, p99.9", term, name)
		}
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--slo %q: limit %q is not a positive duration with its unit (20ms, 1.5s, 500us)", term, val)
		}
		if bounds[name] != "0" {
			return nil, fmt.Errorf("--slo %q: %s is bounded twice", term, name)
		}
		bounds[name] = strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64)
	}
	set := []string{"slo.latency=" + cmpOr(latency, "response")}
	for _, b := range []struct{ name, field string }{{"p50", "p50_ms"}, {"p99", "p99_ms"}, {"p99.9", "p99_9_ms"}} {
		set = append(set, "slo."+b.field+"="+bounds[b.name])
	}
	return set, nil
}
