package reports

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MB is the unit of the capacity plan's throughputs and sizes: 10^6
// bytes, as disk and network vendors count (and the AWS sizing guide).
const MB = 1e6

// Capacity defaults, stated in every plan.
const (
	DefaultRecordBytes    = 1024 // the clickstream profile's events
	DefaultRetention      = 7 * 24 * time.Hour
	DefaultRF             = 3
	DefaultMinISR         = 2
	DefaultConsumerGroups = 1
	DefaultHeadroom       = 1.5 // growth over today's peak; sizing guides suggest 2–3× for partitions
	DefaultDiskUtil       = 0.7 // keep disks at most 70 % full
	DefaultBrokerDiskMBps = 250.0
	DefaultBrokerNetMBps  = 1250.0 // 10 Gbit/s
	DefaultBrokerDiskGB   = 16000.0
)

// CapacityInput is what a capacity plan is computed from. Rates are
// events (records) per second; sizes in bytes; throughputs in MB/s.
type CapacityInput struct {
	PeakEventsPerSec float64
	// AvgEventsPerSec sizes storage; 0 = the peak (conservative).
	AvgEventsPerSec float64
	RecordBytes     float64
	Retention       time.Duration
	RF, MinISR      int
	ConsumerGroups  int
	// Headroom multiplies today's peak for growth (1 = none).
	Headroom float64
	// DiskUtil is the share of each disk the data may fill.
	DiskUtil float64
	// Per-broker limits.
	BrokerDiskMBps, BrokerNetMBps, BrokerDiskGB float64
	// Per-partition ceilings, events/s; 0 = unknown (at least one needed).
	ProducePerPartition, ConsumePerPartition float64
	// CompressionRatio is uncompressed ÷ compressed bytes (1 = none).
	CompressionRatio float64
}

// DefaultCapacityInput is the defaults, without ingress or ceilings.
func DefaultCapacityInput() CapacityInput {
	return CapacityInput{
		RecordBytes: DefaultRecordBytes, Retention: DefaultRetention, RF: DefaultRF, MinISR: DefaultMinISR,
		ConsumerGroups: DefaultConsumerGroups, Headroom: DefaultHeadroom, DiskUtil: DefaultDiskUtil,
		BrokerDiskMBps: DefaultBrokerDiskMBps, BrokerNetMBps: DefaultBrokerNetMBps, BrokerDiskGB: DefaultBrokerDiskGB,
		CompressionRatio: 1,
	}
}

// Validate checks the input makes a plan.
func (in CapacityInput) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if in.PeakEventsPerSec <= 0 {
		bad("peak ingress must be > 0 events/s")
	}
	if in.AvgEventsPerSec < 0 || in.AvgEventsPerSec > in.PeakEventsPerSec {
		bad("average ingress %g events/s must be between 0 and the peak %g", in.AvgEventsPerSec, in.PeakEventsPerSec)
	}
	if in.RecordBytes <= 0 {
		bad("record size must be > 0 bytes")
	}
	if in.Retention <= 0 {
		bad("retention must be > 0")
	}
	if in.RF < 1 {
		bad("replication factor must be ≥ 1")
	}
	if in.MinISR < 1 || in.MinISR > in.RF {
		bad("min.insync.replicas %d must be between 1 and the replication factor %d", in.MinISR, in.RF)
	}
	if in.ConsumerGroups < 0 {
		bad("consumer groups must be ≥ 0")
	}
	if in.Headroom < 1 {
		bad("headroom %g must be ≥ 1 (1 = no growth)", in.Headroom)
	}
	if in.DiskUtil <= 0 || in.DiskUtil > 1 {
		bad("target disk utilisation %g must be in (0, 1]", in.DiskUtil)
	}
	if in.BrokerDiskMBps <= 0 || in.BrokerNetMBps <= 0 || in.BrokerDiskGB <= 0 {
		bad("per-broker disk MB/s, network MB/s and disk size must be > 0")
	}
	if in.ProducePerPartition < 0 || in.ConsumePerPartition < 0 {
		bad("per-partition ceilings must be ≥ 0")
	}
	if in.ProducePerPartition == 0 && in.ConsumePerPartition == 0 {
		bad("no per-partition ceiling: measure one (--from RUN_DIR) or give --produce-per-partition / --consume-per-partition")
	}
	if in.CompressionRatio < 1 {
		bad("compression ratio %g must be ≥ 1", in.CompressionRatio)
	}
	return errors.Join(errs...)
}

// Capacity is a computed plan: every figure with its formula.
type Capacity struct {
	PeakMBps, AvgMBps float64 // uncompressed ingress
	// WireMBps is the peak as stored and sent: compressed, with headroom.
	WireMBps float64

	// PartitionsExact is max(T/p, T/c) before rounding and headroom.
	PartitionsExact    float64
	PartitionsAtPeak   int // ⌈max(T/p, T/c)⌉
	Partitions         int // ⌈max(T/p, T/c) × headroom⌉
	PartitionsLimiting string

	BrokersDisk, BrokersNetwork, BrokersStorage, BrokersReplication int
	Brokers                                                         int
	BrokersLimiting                                                 string
	// ClusterLimitMBps is min(disk × b / RF, net × b / (groups + RF − 1)):
	// the most compressed ingress the chosen brokers carry.
	ClusterLimitMBps float64

	StoredTB, RawDiskTB, DiskPerBrokerGB float64
	NetInPerBrokerMBps                   float64
	NetOutPerBrokerMBps                  float64

	// Failures tolerated: writes with acks=all go on through RF − minISR
	// broker losses; acknowledged records survive minISR − 1.
	WriteFailuresTolerated, AckedLossTolerated int

	Figures []Formula
}

// Formula is one output of the plan with how it was computed.
type Formula struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Formula string  `json:"formula"`
	// With is the formula with the inputs' values substituted.
	With string `json:"with"`
	Note string `json:"note,omitempty"`
}

// ceilInt rounds up, forgiving float noise just above a whole number.
func ceilInt(x float64) int { return int(math.Ceil(x - 1e-9)) }

// SizeCluster computes the cluster a capacity plan recommends. The formulas
// (MB = 10^6 bytes, T the peak ingress):
//
//	partitions  ≥ max(T/p, T/c) × headroom          (events/s per partition)
//	brokers     ≥ T_w × headroom × RF / disk MB/s    (every replica is written)
//	            ≥ T_w × headroom × (groups + RF − 1) / network MB/s
//	              (each broker sends its share to every consumer group and
//	              to RF − 1 followers: the AWS sizing guide's bound)
//	            ≥ stored / (disk size × utilisation)
//	            ≥ RF                                  (replicas on distinct brokers)
//	stored      = average ingress_w × headroom × retention × RF
//
// where _w marks compressed bytes (÷ the compression ratio).
func SizeCluster(in CapacityInput) (*Capacity, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c := &Capacity{}
	avg := in.AvgEventsPerSec
	if avg == 0 {
		avg = in.PeakEventsPerSec
	}
	c.PeakMBps = in.PeakEventsPerSec * in.RecordBytes / MB
	c.AvgMBps = avg * in.RecordBytes / MB
	add := func(f Formula) { c.Figures = append(c.Figures, f) }
	add(Formula{Name: "peak ingress", Value: c.PeakMBps, Unit: "MB/s", Formula: "peak events/s × record size",
		With: fmt.Sprintf("%s × %s B", num(in.PeakEventsPerSec), num(in.RecordBytes))})

	// Partitions.
	var parts []string
	if in.ProducePerPartition > 0 {
		x := in.PeakEventsPerSec / in.ProducePerPartition
		parts = append(parts, fmt.Sprintf("T/p = %s / %s = %s", num(in.PeakEventsPerSec), num(in.ProducePerPartition), num(x)))
		if x > c.PartitionsExact {
			c.PartitionsExact, c.PartitionsLimiting = x, "produce"
		}
	}
	if in.ConsumePerPartition > 0 {
		x := in.PeakEventsPerSec / in.ConsumePerPartition
		parts = append(parts, fmt.Sprintf("T/c = %s / %s = %s", num(in.PeakEventsPerSec), num(in.ConsumePerPartition), num(x)))
		if x > c.PartitionsExact {
			c.PartitionsExact, c.PartitionsLimiting = x, "consume"
		}
	}
	c.PartitionsAtPeak = max(1, ceilInt(c.PartitionsExact))
	c.Partitions = max(1, ceilInt(c.PartitionsExact*in.Headroom))
	add(Formula{Name: "partitions at today's peak", Value: float64(c.PartitionsAtPeak), Unit: "partitions",
		Formula: "⌈max(T/p, T/c)⌉ (p, c: events/s one partition produces, one consumer processes)",
		With:    joinParts(parts) + fmt.Sprintf(" → %d (the %s side limits)", c.PartitionsAtPeak, c.PartitionsLimiting)})
	add(Formula{Name: "partitions", Value: float64(c.Partitions), Unit: "partitions",
		Formula: "⌈max(T/p, T/c) × headroom⌉",
		With:    fmt.Sprintf("⌈%s × %s⌉", num(c.PartitionsExact), num(in.Headroom)),
		Note: "A keyed topic cannot gain partitions later without moving keys to other partitions (hash(key) % partitions changes), " +
			"which breaks per-key ordering across the change: size it for growth now."})

	// Brokers.
	ratio := in.CompressionRatio
	c.WireMBps = c.PeakMBps / ratio * in.Headroom
	fanout := in.ConsumerGroups + in.RF - 1
	c.BrokersDisk = max(1, ceilInt(c.WireMBps*float64(in.RF)/in.BrokerDiskMBps))
	c.BrokersNetwork = max(1, ceilInt(c.WireMBps*float64(fanout)/in.BrokerNetMBps))
	secs := in.Retention.Seconds()
	storedMB := c.AvgMBps / ratio * in.Headroom * secs * float64(in.RF)
	c.StoredTB = storedMB / 1e6
	c.RawDiskTB = c.StoredTB / in.DiskUtil
	c.BrokersStorage = max(1, ceilInt(storedMB/1e3/(in.BrokerDiskGB*in.DiskUtil)))
	c.BrokersReplication = in.RF
	c.Brokers = c.BrokersReplication
	c.BrokersLimiting = "replication (RF)"
	for _, b := range []struct {
		n    int
		name string
	}{{c.BrokersDisk, "disk throughput"}, {c.BrokersNetwork, "network"}, {c.BrokersStorage, "storage"}} {
		if b.n > c.Brokers {
			c.Brokers, c.BrokersLimiting = b.n, b.name
		}
	}
	b := float64(c.Brokers)
	c.ClusterLimitMBps = min(in.BrokerDiskMBps*b/float64(in.RF), in.BrokerNetMBps*b/float64(fanout))
	add(Formula{Name: "stored ingress (compressed, with headroom)", Value: c.WireMBps, Unit: "MB/s",
		Formula: "T × headroom ÷ compression ratio",
		With:    fmt.Sprintf("%s × %s ÷ %s", num(c.PeakMBps), num(in.Headroom), num(ratio))})
	add(Formula{Name: "brokers for disk throughput", Value: float64(c.BrokersDisk), Unit: "brokers",
		Formula: "⌈T_w × RF ÷ disk MB/s per broker⌉",
		With:    fmt.Sprintf("⌈%s × %d ÷ %s⌉", num(c.WireMBps), in.RF, num(in.BrokerDiskMBps))})
	add(Formula{Name: "brokers for network", Value: float64(c.BrokersNetwork), Unit: "brokers",
		Formula: "⌈T_w × (consumer groups + RF − 1) ÷ network MB/s per broker⌉",
		With:    fmt.Sprintf("⌈%s × (%d + %d − 1) ÷ %s⌉", num(c.WireMBps), in.ConsumerGroups, in.RF, num(in.BrokerNetMBps))})
	add(Formula{Name: "brokers for storage", Value: float64(c.BrokersStorage), Unit: "brokers",
		Formula: "⌈stored ÷ (disk size × target utilisation)⌉",
		With:    fmt.Sprintf("⌈%s TB ÷ (%s GB × %s)⌉", num(c.StoredTB), num(in.BrokerDiskGB), num(in.DiskUtil))})
	add(Formula{Name: "brokers", Value: b, Unit: "brokers",
		Formula: "max(disk, network, storage, RF)",
		With:    fmt.Sprintf("max(%d, %d, %d, %d), %s limits", c.BrokersDisk, c.BrokersNetwork, c.BrokersStorage, c.BrokersReplication, c.BrokersLimiting)})
	add(Formula{Name: "cluster throughput limit", Value: c.ClusterLimitMBps, Unit: "MB/s",
		Formula: "min(disk MB/s × brokers ÷ RF, network MB/s × brokers ÷ (groups + RF − 1))",
		With: fmt.Sprintf("min(%s × %d ÷ %d, %s × %d ÷ %d), against %s MB/s needed", num(in.BrokerDiskMBps), c.Brokers, in.RF,
			num(in.BrokerNetMBps), c.Brokers, fanout, num(c.WireMBps)),
		Note: "The AWS sizing bound (compressed bytes). Run brokers well below it: it leaves nothing for recovery after a broker loss."})

	// Storage.
	c.DiskPerBrokerGB = c.RawDiskTB * 1e3 / b
	add(Formula{Name: "stored data", Value: c.StoredTB, Unit: "TB",
		Formula: "average ingress × headroom × retention × RF ÷ compression ratio",
		With:    fmt.Sprintf("%s MB/s × %s × %s s × %d ÷ %s", num(c.AvgMBps), num(in.Headroom), num(secs), in.RF, num(ratio))})
	add(Formula{Name: "raw disk", Value: c.RawDiskTB, Unit: "TB",
		Formula: "stored ÷ target disk utilisation",
		With:    fmt.Sprintf("%s TB ÷ %s", num(c.StoredTB), num(in.DiskUtil))})
	add(Formula{Name: "disk per broker", Value: c.DiskPerBrokerGB, Unit: "GB",
		Formula: "raw disk ÷ brokers",
		With:    fmt.Sprintf("%s TB ÷ %d", num(c.RawDiskTB), c.Brokers)})

	// Network.
	c.NetInPerBrokerMBps = c.WireMBps * float64(in.RF) / b
	c.NetOutPerBrokerMBps = c.WireMBps * float64(fanout) / b
	add(Formula{Name: "network in per broker", Value: c.NetInPerBrokerMBps, Unit: "MB/s",
		Formula: "T_w × RF ÷ brokers (producers + replication in)",
		With:    fmt.Sprintf("%s × %d ÷ %d", num(c.WireMBps), in.RF, c.Brokers)})
	add(Formula{Name: "network out per broker", Value: c.NetOutPerBrokerMBps, Unit: "MB/s",
		Formula: "T_w × (consumer groups + RF − 1) ÷ brokers (consumers + replication out)",
		With:    fmt.Sprintf("%s × %d ÷ %d", num(c.WireMBps), fanout, c.Brokers)})

	c.WriteFailuresTolerated = in.RF - in.MinISR
	c.AckedLossTolerated = in.MinISR - 1
	add(Formula{Name: "broker losses writes survive", Value: float64(c.WriteFailuresTolerated), Unit: "brokers",
		Formula: "RF − min.insync.replicas (acks=all is refused below min.insync)",
		With:    fmt.Sprintf("%d − %d", in.RF, in.MinISR)})
	add(Formula{Name: "broker losses acknowledged data survives", Value: float64(c.AckedLossTolerated), Unit: "brokers",
		Formula: "min.insync.replicas − 1 (an acks=all record is on at least min.insync replicas)",
		With:    fmt.Sprintf("%d − 1", in.MinISR)})
	return c, nil
}

func joinParts(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return "max(" + s + ")"
}

// num writes a number for formulas: whole numbers plainly, others with up
// to three significant decimals.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return groupThousands(fmt.Sprintf("%.0f", v))
	}
	s := formatFig(v)
	if math.Abs(v) >= 1000 {
		return groupThousands(s)
	}
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// groupThousands puts commas in a whole number: 604800 → 604,800.
func groupThousands(s string) string {
	neg := ""
	if len(s) > 0 && s[0] == '-' {
		neg, s = "-", s[1:]
	}
	if len(s) <= 3 {
		return neg + s
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return neg + string(out)
}
