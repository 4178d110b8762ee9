package bench

import (
	"strings"
	"testing"
	"time"
)

func TestDrainLevel(t *testing.T) {
	for _, tc := range []struct {
		built int64
		ratio float64
		want  int64
	}{
		{100000, 1, 1000},    // the floor: a stream never shows zero
		{2048, 1, 204},       // the floor is at most a tenth of the backlog
		{100000, 0.5, 50000}, // the ratio's level above the floor
		{100000, 0.999, 1000},
		{0, 1, 0},
	} {
		if got := drainLevel(tc.built, tc.ratio); got != tc.want {
			t.Errorf("drainLevel(%d, %v) = %d, want %d", tc.built, tc.ratio, got, tc.want)
		}
	}
}

func TestBacklogValidate(t *testing.T) {
	tg, err := NewExternal("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	base := RunConfig{Mode: ModeE2E, Target: tg, Rate: 1000, Duration: time.Second, Backlog: 1 << 20}
	for name, tc := range map[string]struct {
		edit func(*RunConfig)
		want string
	}{
		"produce mode":          {func(c *RunConfig) { c.Mode = ModeProduce }, "needs an e2e run"},
		"ratio above 1":         {func(c *RunConfig) { c.DrainRatio = 1.5 }, "drain ratio 1.5"},
		"ratio without backlog": {func(c *RunConfig) { c.Backlog, c.DrainRatio = 0, 0.5 }, "only used with a backlog"},
		"num records":           {func(c *RunConfig) { c.NumRecords = 10 }, "num-records"},
		"negative":              {func(c *RunConfig) { c.Backlog = -1 }, "want a size"},
		"unthrottled":           {func(c *RunConfig) { c.Rate = 0 }, "needs a rate"},
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid backlog config: %v", err)
	}
}

// A real backlog run on the embedded broker: consumers wait for 2 MiB, then
// drain it faster than the producers add to it.
func TestBacklogDrain(t *testing.T) {
	tg := startEmbedded(t)
	res, out := mustRun(t, RunConfig{
		Mode: ModeE2E, Target: tg, Rate: 3000, Duration: 8 * time.Second, Interval: time.Second,
		Topic: TopicConfig{Name: "backlog", Partitions: 4}, Backlog: 2 << 20,
		Workload: Workload{RecordSize: "1024"},
	})
	t.Log(out)
	f := res.Backlog
	if f == nil || !f.Built || !f.Drained {
		t.Fatalf("backlog figures %+v, want built and drained", f)
	}
	if f.BuiltBytes < 2<<20 {
		t.Errorf("built %d bytes, want >= %d", f.BuiltBytes, 2<<20)
	}
	// 2 MiB at 3000 records/s of 1 KiB takes about 0.7 s.
	if f.BuildS < 0.5 || f.BuildS > 3 {
		t.Errorf("build took %.2f s, want about 0.7 s", f.BuildS)
	}
	if f.DrainS <= 0 {
		t.Errorf("drain time %v, want > 0", f.DrainS)
	}
	if f.DrainRecordsPerSec <= f.ProduceRecordsPerSec || f.NetRecordsPerSec <= 0 {
		t.Errorf("drain %.0f records/s, produce %.0f records/s: want the drain faster", f.DrainRecordsPerSec, f.ProduceRecordsPerSec)
	}
	// Everything the backlog held was consumed, minus at most the level.
	if got := f.DrainConsumed - f.DrainProduced; got < f.BuiltRecords-f.DrainLevel {
		t.Errorf("drain consumed %d net records, want >= %d", got, f.BuiltRecords-f.DrainLevel)
	}
	if f.BeforeDrain.Response == nil || f.DuringDrain.Response == nil {
		t.Errorf("producer latency before/during the drain missing: %+v / %+v", f.BeforeDrain, f.DuringDrain)
	}
	// The drain ends the run, well before its 8 s duration.
	if res.Elapsed > 5 {
		t.Errorf("run took %.1f s, want it to end at the drain", res.Elapsed)
	}
	if res.Consume.Unconsumed != 0 {
		t.Errorf("unconsumed %d, want 0", res.Consume.Unconsumed)
	}
	if !strings.Contains(out, "drain time: ") || !strings.Contains(out, "drain rate: ") {
		t.Errorf("summary lacks the drain lines:\n%s", out)
	}
}
