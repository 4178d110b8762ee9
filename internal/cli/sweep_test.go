package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/profiles"
)

func TestSweepDryRunClickstream(t *testing.T) {
	out := mustKbench(t, "sweep", "--profile", "clickstream", "--dry-run")
	for _, want := range []string{
		"profile clickstream (builtin)",
		"embedded cluster, 3 brokers as processes",
		"kbench-clickstream, 20 partitions, replication factor 3, configs min.insync.replicas=2",
		"acks=all compression.type=zstd enable.idempotence=true",
		"fixed 100000 records/s",
		"response p99 ≤ 20 ms, error-free",
		"linger.ms [0 5 10 25 50] × batch.size [16KiB 64KiB 256KiB 1MiB]",
		"p020  50         1MiB",
		"20 points, about 20 runs, estimated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
}

func TestSweepDryRunEveryBuiltin(t *testing.T) {
	for _, name := range profiles.Names() {
		out := mustKbench(t, "sweep", "--profile", name, "--dry-run")
		if !strings.Contains(out, "profile "+name+" (builtin)") || !strings.Contains(out, " points") {
			t.Fatalf("%s: dry run output:\n%s", name, out)
		}
	}
	// A profile's searches show their probe budget.
	out := mustKbench(t, "sweep", "--profile", "partitions", "--dry-run")
	if !strings.Contains(out, "~7 (≤8)") || !strings.Contains(out, "at most") {
		t.Fatalf("partitions dry run lacks the search budget:\n%s", out)
	}
	// The durability profile shows its frontier: the common rate, each fault
	// scenario's schedule, and the excluded count.
	out = mustKbench(t, "sweep", "--profile", "durability", "--dry-run")
	for _, want := range []string{"frontier:  after each search, at a common 2000 records/s",
		"followers 300 ms behind, then leader kill -9: 0s:delay:1:300ms", "2s:kill-leader:0",
		"followers lost one by one: 0s:kill:2, 1s:kill:3", "5 excluded"} {
		if !strings.Contains(out, want) {
			t.Fatalf("durability dry run lacks %q:\n%s", want, out)
		}
	}
}

func TestProfilesCommands(t *testing.T) {
	out := mustKbench(t, "profiles", "list")
	for _, name := range profiles.Names() {
		if !strings.Contains(out, "\n"+name+" ") {
			t.Errorf("list lacks %s:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "clickstream   20 ") {
		t.Errorf("list does not give clickstream's 20 points:\n%s", out)
	}
	out = mustKbench(t, "profiles", "show", "quick")
	src, _ := profiles.Builtin("quick")
	if !strings.HasPrefix(out, string(src)) || !strings.Contains(out, "# builtin: 3 points, estimated") {
		t.Fatalf("show quick:\n%s", out)
	}
	out = mustKbench(t, "profiles", "schema")
	if !strings.Contains(out, profiles.SchemaExample) || !strings.Contains(out, "--set") {
		t.Fatalf("schema:\n%s", out)
	}
	_, errOut, code := kbench(t, "profiles", "show", "quik")
	if code == 0 || !strings.Contains(errOut, "built-in profiles: clickstream") {
		t.Fatalf("show of an unknown profile: exit %d, %s", code, errOut)
	}
}

func TestSweepFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("rate: 1000\nworkload:\n  duration: 1s\n  producers: lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sweep"}, "give --profile NAME|PATH"},
		{[]string{"sweep", "--profile", "quick", "--resume", dir}, "give --profile NAME|PATH"},
		{[]string{"sweep", "--profile", "quick", "--retry-failed"}, "--retry-failed goes with --resume"},
		{[]string{"sweep", "--resume", dir, "--set", "repeat=2"}, "--resume runs the profile recorded"},
		{[]string{"sweep", "--resume", dir}, "read manifest"},
		{[]string{"sweep", "--profile", "quick", "--progress", "fancy"}, "valid values are auto, bar, lines, none"},
		{[]string{"sweep", "--profile", bad, "--dry-run"}, bad + ":4: workload.producers: \"lots\": want a whole number in [1, 1024]"},
		{[]string{"sweep", "--profile", "quick", "--dry-run", "--set", "workload.duraton=1s"}, "--set workload.duraton=1s: workload.duraton is not a field"},
		{[]string{"sweep", "--profile", "quick", "--dry-run", "--bootstrap", "nohost"}, "target.bootstrap"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			_, errOut, code := kbench(t, tt.args...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want a failure containing %q", code, errOut, tt.want)
			}
		})
	}
}

// The --bootstrap and --command-config flags become profile overrides, so a
// resume finds them in the manifest.
func TestSweepTargetFlags(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "client.properties")
	if err := os.WriteFile(props, []byte("bootstrap.servers=kafka-1:9092\nclient.id=sizing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustKbench(t, "sweep", "--profile", "clickstream", "--dry-run", "--command-config", props)
	if !strings.Contains(out, "external cluster at kafka-1:9092") || !strings.Contains(out, "--set target.client_properties=") {
		t.Fatalf("dry run with --command-config:\n%s", out)
	}
	out = mustKbench(t, "sweep", "--profile", "clickstream", "--dry-run", "--bootstrap", "kafka-2:9093", "--command-config", props)
	if !strings.Contains(out, "external cluster at kafka-2:9093") {
		t.Fatalf("--bootstrap does not win over bootstrap.servers:\n%s", out)
	}
	client, err := clientProps(profiles.Target{ClientProperties: props, Client: map[string]string{"client.id": "override"}})
	if err != nil || client["client.id"] != "override" || client["bootstrap.servers"] != "" {
		t.Fatalf("client properties %v (%v): want the inline client.id and no bootstrap.servers", client, err)
	}
}

const cliTinyProfile = `description: CLI test sweep
topic:
  partitions: 2
workload:
  record_size: 200
  warmup: 200ms
  duration: 800ms
  interval: 400ms
rate: 500
slo:
  p99_ms: 500
axes:
  linger.ms: [0, 5]
`

func TestSweepCommandRuns(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(prof, []byte(cliTinyProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	out, errOut, code := kbench(t, "sweep", "--profile", prof, "--out", run, "--progress", "lines")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"p001   linger.ms=0  500", "p002   linger.ms=5  500", "met", "results: " + filepath.Join(run, "results.jsonl")} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "[1/2] p001 linger.ms=0") || !strings.Contains(errOut, "r1 @ 500/s") {
		t.Errorf("progress lines missing:\n%s", errOut)
	}
	lines, _, err := sweep.ReadResultsFile(run)
	if err != nil || len(lines) != 2 || lines[0].Status != sweep.PointDone || lines[1].Status != sweep.PointDone {
		t.Fatalf("results: %d lines, %v", len(lines), err)
	}
	// Resuming a finished run does nothing and succeeds.
	out = mustKbench(t, "sweep", "--resume", run, "--progress", "none")
	if !strings.Contains(out, "p002") {
		t.Fatalf("resume output:\n%s", out)
	}
}

// The clickstream design on the real 3-broker process cluster, shortened:
// RF 3 with min.insync.replicas 2, acks=all, idempotence, zstd, 20
// partitions. (The test binary acts as kbench for the broker processes.)
func TestSweepClickstreamOnCluster(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	out, errOut, code := kbench(t, "sweep", "--profile", "clickstream", "--out", run, "--progress", "lines",
		"--set", "workload.warmup=500ms", "--set", "workload.duration=1500ms", "--set", "rate=1000",
		"--set", "workload.producers=1", "--set", "workload.consumers=2", "--set", "axes={linger.ms: [5], batch.size: [64KiB]}")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	lines, _, err := sweep.ReadResultsFile(run)
	if err != nil || len(lines) != 1 {
		t.Fatalf("results: %d lines, %v", len(lines), err)
	}
	l := lines[0]
	if l.Status != sweep.PointDone || l.Point.Brokers != 3 || l.Result == nil {
		t.Fatalf("point %s on %d brokers, result %v: %s", l.Status, l.Point.Brokers, l.Result != nil, l.Error)
	}
	s := l.Result.Settings
	if s.Topic.ReplicationFactor != 3 || s.Topic.Partitions != 20 || s.Topic.Configs["min.insync.replicas"] != "2" ||
		l.Result.EffectiveProducer["compression.type"] != "zstd" || l.Result.EffectiveProducer["enable.idempotence"] != "true" {
		t.Fatalf("ran with topic %+v, producer %v", s.Topic, l.Result.EffectiveProducer)
	}
	// Rate accuracy is the load generator's business (and the race
	// detector slows it); here the figures must be the run's.
	if got := l.Figures["produce_records_per_sec"].Median; got <= 0 || got != l.Result.Produce.RecordsPerSec || l.Result.Produce.TargetRate != 1000 {
		t.Fatalf("figures say %.0f records/s, the run %.0f of a %.0f target", got, l.Result.Produce.RecordsPerSec, l.Result.Produce.TargetRate)
	}
	if r := l.Figures["compression_ratio"].Median; r < 1.5 {
		t.Fatalf("zstd compression ratio %.2f on JSON events", r)
	}
	for _, f := range []string{"broker-1.log", "broker-2.log", "broker-3.log", "cluster.log"} {
		if _, err := os.Stat(filepath.Join(run, "broker", f)); err != nil {
			t.Errorf("broker log: %v", err)
		}
	}
	m, err := sweep.ReadManifest(run)
	if err != nil || m.Status != sweep.StatusDone || !strings.Contains(m.Target, "3 brokers as processes") {
		t.Fatalf("manifest %+v, %v", m, err)
	}
}

// A change of cluster shape between points restarts the embedded cluster:
// one in-process broker, then three broker processes.
func TestSweepRestartsClusterOnShapeChange(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(prof, []byte(cliTinyProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	out, errOut, code := kbench(t, "sweep", "--profile", prof, "--out", run, "--progress", "lines",
		"--set", "target.brokers=3", "--set", "axes={brokers: [1, 3]}", "--set", "topic.replication.factor=1")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	lines, _, err := sweep.ReadResultsFile(run)
	if err != nil || len(lines) != 2 {
		t.Fatalf("results: %d lines, %v", len(lines), err)
	}
	for i, want := range []string{"embedded kbench broker at", "embedded kbench cluster of 3 brokers"} {
		l := lines[i]
		if l.Status != sweep.PointDone || l.Result == nil || !strings.Contains(l.Result.Manifest.Target, want) {
			t.Fatalf("point %d: %s on %q (%s), want a run on %q", i+1, l.Status, l.Result.Manifest.Target, l.Error, want)
		}
	}
	inProc := mustReadFile(t, filepath.Join(run, "broker", "broker-1.log"))
	cl := mustReadFile(t, filepath.Join(run, "broker", "cluster.log"))
	if !strings.Contains(inProc, "starting the in-process broker (point p001") || !strings.Contains(cl, "starting a 3-broker cluster (point p002") {
		t.Fatalf("broker logs do not show the restart:\n%s\n%s", inProc, cl)
	}
}
