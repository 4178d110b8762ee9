package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kbench/kbench/internal/atomicfile"
)

// Checkpoint files, in Kafka's text layout: a version line "0", a count
// line, then entries.
const (
	logStartFile = "log-start-offset"
	epochFile    = "leader-epoch-checkpoint"
)

// EpochEntry says leader epoch Epoch wrote its first batch at offset Start.
type EpochEntry struct {
	Epoch int32
	Start int64
}

func writeLogStart(dir string, off int64) error {
	return WriteCheckpoint(filepath.Join(dir, logStartFile), []string{strconv.FormatInt(off, 10)})
}

// readLogStart returns the checkpointed log start offset; ok is false when there is none.
func readLogStart(dir string) (off int64, ok bool, err error) {
	lines, err := ReadCheckpoint(filepath.Join(dir, logStartFile))
	if err != nil || lines == nil {
		return 0, false, err
	}
	if len(lines) != 1 {
		return 0, false, fmt.Errorf("%s: want 1 entry, got %d", logStartFile, len(lines))
	}
	off, err = strconv.ParseInt(lines[0], 10, 64)
	if err != nil || off < 0 {
		return 0, false, fmt.Errorf("%s: bad offset %q", logStartFile, lines[0])
	}
	return off, true, nil
}

func writeEpochs(dir string, es []EpochEntry) error {
	entries := make([]string, len(es))
	for i, e := range es {
		entries[i] = fmt.Sprintf("%d %d", e.Epoch, e.Start)
	}
	return WriteCheckpoint(filepath.Join(dir, epochFile), entries)
}

func readEpochs(dir string) ([]EpochEntry, error) {
	lines, err := ReadCheckpoint(filepath.Join(dir, epochFile))
	if err != nil {
		return nil, err
	}
	var es []EpochEntry
	for _, l := range lines {
		ep, off, ok := strings.Cut(l, " ")
		e, err1 := strconv.ParseInt(ep, 10, 32)
		o, err2 := strconv.ParseInt(off, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad entry %q", epochFile, l)
		}
		if n := len(es); n > 0 && (int32(e) <= es[n-1].Epoch || o < es[n-1].Start) {
			return nil, fmt.Errorf("%s: entries not increasing at %q", epochFile, l)
		}
		es = append(es, EpochEntry{Epoch: int32(e), Start: o})
	}
	return es, nil
}

// WriteCheckpoint replaces the checkpoint file at path with entries, in
// Kafka's text layout, durably.
func WriteCheckpoint(path string, entries []string) error {
	b := fmt.Appendf(nil, "0\n%d\n", len(entries))
	for _, e := range entries {
		b = append(append(b, e...), '\n')
	}
	return atomicfile.Write(path, b, true)
}

// ReadCheckpoint returns the entry lines of a checkpoint file written by
// WriteCheckpoint (or Kafka), nil when it does not exist.
func ReadCheckpoint(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 || lines[0] != "0" {
		return nil, fmt.Errorf("%s: bad header", filepath.Base(path))
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return nil, fmt.Errorf("%s: count %q for %d entries", filepath.Base(path), lines[1], len(lines)-2)
	}
	return lines[2:], nil
}

// epochCache is the leader epoch -> start offset history.
type epochCache []EpochEntry

func (c epochCache) latest() int32 {
	if len(c) == 0 {
		return -1
	}
	return c[len(c)-1].Epoch
}

// endOffsetFor follows Kafka's LeaderEpochFileCache.endOffsetFor: the largest epoch <= the
// requested one and the start offset of the epoch after it (or the log end offset when it is
// the latest); (-1, -1) when the requested epoch is newer than any known or the cache is empty.
func (c epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	if epoch < 0 || len(c) == 0 {
		return -1, -1
	}
	if epoch == c.latest() {
		return epoch, logEnd
	}
	// first entry with Epoch > epoch
	i := 0
	for i < len(c) && c[i].Epoch <= epoch {
		i++
	}
	if i == len(c) {
		return -1, -1
	}
	if i == 0 {
		return epoch, c[0].Start
	}
	return c[i-1].Epoch, c[i].Start
}

// assign records that epoch starts at start. Like Kafka's cache it drops entries that would
// break monotonicity (a follower re-learning history after truncation). It reports a change.
func (c *epochCache) assign(epoch int32, start int64) bool {
	es := *c
	if n := len(es); n > 0 && es[n-1].Epoch == epoch {
		return false
	}
	for len(es) > 0 && (es[len(es)-1].Epoch >= epoch || es[len(es)-1].Start >= start) {
		es = es[:len(es)-1]
	}
	*c = append(es, EpochEntry{Epoch: epoch, Start: start})
	return true
}

// truncateFromEnd drops epochs starting at or after end.
func (c *epochCache) truncateFromEnd(end int64) bool {
	es := *c
	n := len(es)
	for n > 0 && es[n-1].Start >= end {
		n--
	}
	*c = es[:n]
	return n != len(es)
}

// truncateFromStart drops epochs wholly below start and moves the one covering start up to it.
func (c *epochCache) truncateFromStart(start int64) bool {
	es := *c
	i := 0
	for i+1 < len(es) && es[i+1].Start <= start {
		i++
	}
	changed := i > 0
	es = es[i:]
	if len(es) > 0 && es[0].Start < start {
		es[0].Start = start
		changed = true
	}
	*c = es
	return changed
}
