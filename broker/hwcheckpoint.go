package broker

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kbench/kbench/broker/storage"
)

// The high watermark checkpoint, Kafka's replication-offset-checkpoint: one
// file per data directory listing every partition's HW, written every
// Config.HWCheckpointInterval and at a clean shutdown. A reopened partition
// starts from it (bounded by its log), so after a restart, even of the whole
// cluster, the HW does not fall back to the log start: a lagging follower
// cannot look caught up and rejoin the ISR without the acknowledged records
// (followerFetched also holds it to the leader epoch's start offset, which
// covers the records acknowledged after the last checkpoint).
//
// Layout (text): a version line "0", a count line, then "topic partition hw"
// per partition.

const hwCheckpointFile = "replication-offset-checkpoint"

type hwKey struct {
	topic     string
	partition int32
}

// readHWCheckpoint loads the checkpoint in dir; none is an empty map.
func readHWCheckpoint(dir string) (map[hwKey]int64, error) {
	path := filepath.Join(dir, hwCheckpointFile)
	lines, err := storage.ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	out := make(map[hwKey]int64, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s: bad entry %q", path, l)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		hw, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 || hw < 0 {
			return nil, fmt.Errorf("%s: bad entry %q", path, l)
		}
		out[hwKey{f[0], int32(p)}] = hw
	}
	return out, nil
}

// checkpointHW writes every open partition's HW.
func (b *Broker) checkpointHW() error {
	type entry struct {
		hwKey
		hw int64
	}
	var es []entry
	for _, t := range b.topics.snapshot() {
		for _, p := range t.partitions {
			if p != nil {
				es = append(es, entry{hwKey{p.topic, p.index}, p.hw.Load()})
			}
		}
	}
	slices.SortFunc(es, func(a, c entry) int {
		if d := strings.Compare(a.topic, c.topic); d != 0 {
			return d
		}
		return int(a.partition - c.partition)
	})
	entries := make([]string, len(es))
	for i, e := range es {
		entries[i] = fmt.Sprintf("%s %d %d", e.topic, e.partition, e.hw)
	}
	return storage.WriteCheckpoint(filepath.Join(b.cfg.DataDir, hwCheckpointFile), entries)
}
