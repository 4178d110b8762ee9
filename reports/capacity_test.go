package reports

import (
	"math"
	"strings"
	"testing"
	"time"
)

// seedInput is the seed's clickstream example: 100,000 events/s at peak,
// about 5,000 events/s per consumer, RF 3, min.insync 2, 7 days, with
// 1 KiB events and no growth headroom.
func seedInput() CapacityInput {
	in := DefaultCapacityInput()
	in.PeakEventsPerSec = 100000
	in.ConsumePerPartition = 5000
	in.Headroom = 1
	return in
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestCapacityPlan(t *testing.T) {
	type want struct {
		partitionsAtPeak, partitions                   int
		brokersDisk, brokersNet, brokersStorage, broks int
		limiting                                       string
		storedTB, rawTB, perBrokerGB                   float64
		netIn, netOut                                  float64
	}
	for _, tc := range []struct {
		name string
		in   func() CapacityInput
		want want
	}{
		{
			// T = 100,000 × 1024 B = 102.4 MB/s. Partitions: 100,000 / 5,000
			// = 20. Disk: ⌈102.4 × 3 / 250⌉ = ⌈1.2288⌉ = 2. Network:
			// ⌈102.4 × (1 + 3 − 1) / 1250⌉ = ⌈0.24576⌉ = 1. Stored:
			// 102.4 MB/s × 604,800 s × 3 = 185,794,560 MB = 185.79456 TB;
			// raw ÷ 0.7 = 265.4208 TB; storage brokers ⌈185,794.56 GB /
			// (16,000 × 0.7)⌉ = ⌈16.589⌉ = 17; per broker 265,420.8 / 17 =
			// 15,613.0 GB; network 102.4 × 3 / 17 each way.
			name: "seed clickstream",
			in:   seedInput,
			want: want{20, 20, 2, 1, 17, 17, "storage", 185.79456, 265.4208, 265420.8 / 17, 307.2 / 17, 307.2 / 17},
		},
		{
			// The same with zstd's 3× and the seed's 2× growth: T_w =
			// 102.4 × 2 / 3 = 68.2667 MB/s. Partitions ⌈20 × 2⌉ = 40.
			// Disk ⌈68.2667 × 3 / 250⌉ = ⌈0.8192⌉ = 1; storage 102.4 × 2 / 3
			// × 604,800 × 3 = 123,863,040 MB = 123.86304 TB → ⌈123,863.04 /
			// 11,200⌉ = ⌈11.059⌉ = 12; raw 176.9472 TB; per broker
			// 176,947.2 / 12 = 14,745.6 GB.
			name: "seed with zstd and 2x growth",
			in: func() CapacityInput {
				in := seedInput()
				in.CompressionRatio, in.Headroom = 3, 2
				return in
			},
			want: want{20, 40, 1, 1, 12, 12, "storage", 123.86304, 176.9472, 14745.6, 68.2666666667 * 3 / 12, 68.2666666667 * 3 / 12},
		},
		{
			// A network-bound cluster: 1 GB/s of 1,000 B events, 6 consumer
			// groups, 1 day, small network. p = 20,000, c = 50,000 events/s:
			// partitions ⌈1e6 / 20,000⌉ = 50 (produce limits). Disk ⌈1000 ×
			// 3 / 500⌉ = 6; network ⌈1000 × (6 + 3 − 1) / 1000⌉ = 8; stored
			// 1000 × 86,400 × 3 = 259,200,000 MB = 259.2 TB → ⌈259,200 /
			// (50,000 × 0.8)⌉ = ⌈6.48⌉ = 7. Brokers 8; raw 324 TB; per
			// broker 40,500 GB; in 3000 / 8 = 375, out 8000 / 8 = 1000 MB/s.
			name: "network bound",
			in: func() CapacityInput {
				in := DefaultCapacityInput()
				in.PeakEventsPerSec, in.RecordBytes = 1e6, 1000
				in.ProducePerPartition, in.ConsumePerPartition = 20000, 50000
				in.ConsumerGroups, in.Retention, in.Headroom = 6, 24*time.Hour, 1
				in.BrokerDiskMBps, in.BrokerNetMBps, in.BrokerDiskGB, in.DiskUtil = 500, 1000, 50000, 0.8
				return in
			},
			want: want{50, 50, 6, 8, 7, 8, "network", 259.2, 324, 40500, 375, 1000},
		},
		{
			// Tiny ingress: RF sets the floor. 1,000 events/s × 100 B =
			// 0.1 MB/s; partitions ⌈1000 / 2000⌉ = 1 (× 1.5 → ⌈0.75⌉ = 1);
			// brokers max(1, 1, 1, 3) = 3. Average 500 events/s → 0.05 MB/s
			// × 1.5 × 86,400 × 3 = 19,440 MB = 0.01944 TB; raw 0.027771 TB;
			// per broker 9.257 GB; network 0.15 × 3 / 3 = 0.15 MB/s each way.
			name: "replication floor",
			in: func() CapacityInput {
				in := DefaultCapacityInput()
				in.PeakEventsPerSec, in.AvgEventsPerSec, in.RecordBytes = 1000, 500, 100
				in.ProducePerPartition, in.Retention = 2000, 24*time.Hour
				return in
			},
			want: want{1, 1, 1, 1, 1, 3, "replication (RF)", 0.01944, 0.01944 / 0.7, 19.44 / 0.7 / 3, 0.15, 0.15},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := SizeCluster(tc.in())
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			ints := []struct {
				name      string
				got, want int
			}{
				{"partitions at peak", c.PartitionsAtPeak, w.partitionsAtPeak},
				{"partitions", c.Partitions, w.partitions},
				{"brokers for disk", c.BrokersDisk, w.brokersDisk},
				{"brokers for network", c.BrokersNetwork, w.brokersNet},
				{"brokers for storage", c.BrokersStorage, w.brokersStorage},
				{"brokers", c.Brokers, w.broks},
			}
			for _, x := range ints {
				if x.got != x.want {
					t.Errorf("%s: got %d, want %d", x.name, x.got, x.want)
				}
			}
			if c.BrokersLimiting != w.limiting {
				t.Errorf("limited by %q, want %q", c.BrokersLimiting, w.limiting)
			}
			floats := []struct {
				name      string
				got, want float64
			}{
				{"stored TB", c.StoredTB, w.storedTB},
				{"raw TB", c.RawDiskTB, w.rawTB},
				{"disk per broker GB", c.DiskPerBrokerGB, w.perBrokerGB},
				{"network in MB/s", c.NetInPerBrokerMBps, w.netIn},
				{"network out MB/s", c.NetOutPerBrokerMBps, w.netOut},
			}
			for _, x := range floats {
				if !near(x.got, x.want) {
					t.Errorf("%s: got %.9g, want %.9g", x.name, x.got, x.want)
				}
			}
		})
	}
}

func TestCapacitySeedTolerance(t *testing.T) {
	c, err := SizeCluster(seedInput())
	if err != nil {
		t.Fatal(err)
	}
	// RF 3, min.insync 2: writes go on with one broker down, and an
	// acknowledged record survives one broker loss.
	if c.WriteFailuresTolerated != 1 || c.AckedLossTolerated != 1 {
		t.Errorf("got %d, %d; want 1, 1", c.WriteFailuresTolerated, c.AckedLossTolerated)
	}
	// min(250 × 17 / 3, 1250 × 17 / 3) = 1416.67 MB/s.
	if !near(c.ClusterLimitMBps, 250.0*17/3) {
		t.Errorf("cluster limit %g, want %g", c.ClusterLimitMBps, 250.0*17/3)
	}
	var partitions *Formula
	for i := range c.Figures {
		if c.Figures[i].Name == "partitions" {
			partitions = &c.Figures[i]
		}
	}
	if partitions == nil || !strings.Contains(partitions.Note, "keyed topic") {
		t.Errorf("the partitions figure lacks the re-partitioning warning: %+v", partitions)
	}
}

func TestCapacityValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*CapacityInput)
		want string
	}{
		{"no peak", func(in *CapacityInput) { in.PeakEventsPerSec = 0 }, "peak ingress"},
		{"average above peak", func(in *CapacityInput) { in.AvgEventsPerSec = 2e5 }, "average ingress"},
		{"min.insync over RF", func(in *CapacityInput) { in.MinISR = 4 }, "min.insync.replicas 4"},
		{"no ceiling", func(in *CapacityInput) { in.ConsumePerPartition = 0 }, "no per-partition ceiling"},
		{"headroom below 1", func(in *CapacityInput) { in.Headroom = 0.5 }, "headroom"},
		{"disk full", func(in *CapacityInput) { in.DiskUtil = 1.5 }, "utilisation"},
		{"ratio below 1", func(in *CapacityInput) { in.CompressionRatio = 0.5 }, "compression ratio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := seedInput()
			tc.edit(&in)
			_, err := SizeCluster(in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestNum(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{604800, "604,800"}, {102.4, "102.4"}, {0.7, "0.7"}, {1.2288, "1.23"}, {15613.04, "15,613"}, {-1234567, "-1,234,567"}, {3, "3"},
	} {
		if got := num(tc.v); got != tc.want {
			t.Errorf("num(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
