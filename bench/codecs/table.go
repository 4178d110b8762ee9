package codecs

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kbench/kbench/internal/atomicfile"
	"github.com/kbench/kbench/internal/units"
)

// SortKeys are the orders --sort accepts.
func SortKeys() []string { return []string{"ratio", "compress", "decompress", "cpu"} }

// CheckSort reports whether key is a valid --sort value.
func CheckSort(key string) error {
	if !slices.Contains(SortKeys(), key) {
		return fmt.Errorf("--sort: unknown order %q (valid: %s)", key, strings.Join(SortKeys(), ", "))
	}
	return nil
}

// speedOf is a median speed, infinite for none, which costs nothing.
func speedOf(s *Speed) float64 {
	if s == nil {
		return math.Inf(1)
	}
	return s.MedianMBps
}

// Sorted returns results grouped by batch size (ascending) and, within a
// size, best first by key: ratio, compress or decompress speed (higher
// first), or cpu (less first).
func Sorted(results []Result, key string) []Result {
	out := slices.Clone(results)
	slices.SortStableFunc(out, func(a, b Result) int {
		if c := cmp.Compare(a.BatchBytes, b.BatchBytes); c != 0 {
			return c
		}
		switch key {
		case "compress":
			return cmp.Compare(speedOf(b.Compress), speedOf(a.Compress))
		case "decompress":
			return cmp.Compare(speedOf(b.Decompress), speedOf(a.Decompress))
		case "cpu":
			return cmp.Compare(a.CPUSecPerGB(), b.CPUSecPerGB())
		default:
			return cmp.Compare(b.Ratio, a.Ratio)
		}
	})
	return out
}

func fmtSpeed(s *Speed) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f ±%.0f%%", s.MedianMBps, s.SpreadPct/2)
}

// WriteWorkload writes what records were measured: the workload as
// produce's flags spell it, and how many records and value bytes.
func WriteWorkload(w io.Writer, rep *Report) error {
	wl := rep.Workload
	payload := cmp.Or(wl.Payload, "random")
	if payload == "random" {
		payload += fmt.Sprintf(" (compressibility %g, pool %s)", wl.Compressibility, cmp.Or(wl.PayloadPool, "default"))
	}
	_, err := fmt.Fprintf(w, "payload %s, record size %s, keys %s, seed %d: %d records, %s of values; %s, %s\n",
		payload, wl.RecordSize, cmp.Or(wl.Keys, "none"), wl.Seed, rep.Records,
		units.FormatBytes(rep.SampleBytes), rep.Arch, rep.GoVersion)
	return err
}

// WriteTable writes the results as an aligned table sorted by key.
func WriteTable(w io.Writer, rep *Report, key string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "BATCH\tCODEC\tRATIO\tRAW\tCOMPRESS MB/s\tDECOMPRESS MB/s\tCPU s/GB c+d\tALLOCS/BATCH c/d\t")
	for _, r := range Sorted(rep.Results, key) {
		raw := "-"
		if r.RawBatches > 0 {
			raw = fmt.Sprintf("%d/%d", r.RawBatches, r.Batches)
		}
		cpu, allocs := "0", "-"
		if r.Compress != nil {
			cpu = fmt.Sprintf("%.2f+%.2f", r.Compress.CPUSecPerGB, r.Decompress.CPUSecPerGB)
			allocs = fmt.Sprintf("%.1f/%.1f", r.Compress.AllocsPerBatch, r.Decompress.AllocsPerBatch)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n",
			units.FormatBytes(int64(r.BatchBytes)), r.Label, r.Ratio, raw,
			fmtSpeed(r.Compress), fmtSpeed(r.Decompress), cpu, allocs)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	_, err := fmt.Fprintf(w, "MB/s: uncompressed MB (10^6 B) per %s second of one core, median of %d reps ± half the min-max spread.\n"+
		"RAW: batches franz-go sends uncompressed because compressing did not shrink them. CPU s/GB: compress + decompress.\n",
		rep.Clock, rep.Reps)
	return err
}

// WriteRecommendations writes the picks in plain words, one line per
// batch size and choice.
func WriteRecommendations(w io.Writer, rep *Report) error {
	var b strings.Builder
	b.WriteString("Recommendation for this data:\n")
	for _, rec := range rep.Recommendations {
		size := units.FormatBytes(int64(rec.BatchBytes))
		fmt.Fprintf(&b, "  %s batches:\n", size)
		fmt.Fprintf(&b, "    for bandwidth: %s, ratio %.2f (compresses %.0f MB/s per core)\n",
			rec.Bandwidth.Label, rec.Bandwidth.Ratio, rec.Bandwidth.CompressMBps)
		if rec.CPU.Label == "none" {
			fmt.Fprintf(&b, "    for CPU and balanced: none, no codec saves %.0f%% on this data\n", 100*(1-1/worthwhileRatio))
			continue
		}
		fmt.Fprintf(&b, "    for CPU:       %s, %.2f CPU-s per GB compress+decompress at ratio %.2f\n",
			rec.CPU.Label, rec.CPU.CPUSecPerGB, rec.CPU.Ratio)
		fmt.Fprintf(&b, "    balanced:      %s, ratio %.2f for %.2f CPU-s per GB\n",
			rec.Balanced.Label, rec.Balanced.Ratio, rec.Balanced.CPUSecPerGB)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes rep to path as indented JSON.
func WriteJSON(path string, rep *Report) error {
	return atomicfile.WriteJSON(path, rep, false)
}
