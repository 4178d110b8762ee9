package verify

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Schema is the history format version written in the start line.
const Schema = 1

// HistoryFile is the history's name in a run directory.
const HistoryFile = "history.jsonl"

// Type says what an Op is; see the package documentation.
type Type string

// The operation types.
const (
	TStart      Type = "start"
	TProduce    Type = "produce"
	TConsume    Type = "consume"
	TRead       Type = "read"
	TCommit     Type = "commit"
	TOffsets    Type = "offsets"
	TAssign     Type = "assign"
	TRevoke     Type = "revoke"
	TLost       Type = "lost"
	TTxnBegin   Type = "txn-begin"
	TTxnCommit  Type = "txn-commit"
	TTxnAbort   Type = "txn-abort"
	TFaultStart Type = "fault-start"
	TFaultStop  Type = "fault-stop"
	TPhase      Type = "phase"
	TEnds       Type = "ends"
	TMetadata   Type = "metadata"
)

// Outcome is an operation's result.
type Outcome string

// The outcomes.
const (
	Invoke Outcome = "invoke"
	OK     Outcome = "ok"
	Fail   Outcome = "fail"
	// Info is an unknown outcome: the operation may or may not have
	// taken effect.
	Info Outcome = "info"
)

// Phase names written in phase lines.
const (
	PhaseLoadStart = "load-start"
	PhaseLoadEnd   = "load-end"
	PhaseHealed    = "healed"
	PhaseDrained   = "drained"
	PhaseEnd       = "end"
)

// Meta describes the run; it is the start line's payload.
type Meta struct {
	Schema     int     `json:"schema"`
	Workload   string  `json:"workload"`
	Scenario   string  `json:"scenario,omitempty"`
	Topic      string  `json:"topic"`
	Output     string  `json:"output,omitempty"`
	Partitions int32   `json:"partitions"`
	Group      string  `json:"group,omitempty"`
	Idempotent bool    `json:"idempotent"`
	StallS     float64 `json:"stall_s,omitempty"`
	Seed       int64   `json:"seed"`
	Nemesis    string  `json:"nemesis,omitempty"`
	Target     string  `json:"target,omitempty"`
}

// Op is one history line.
type Op struct {
	T          float64 `json:"t"`
	Type       Type    `json:"type"`
	Outcome    Outcome `json:"outcome,omitempty"`
	T0         float64 `json:"t0,omitempty"`
	Proc       string  `json:"proc,omitempty"`
	ID         string  `json:"id,omitempty"`
	Src        string  `json:"src,omitempty"`
	Txn        string  `json:"txn,omitempty"`
	Topic      string  `json:"topic,omitempty"`
	Partition  int32   `json:"partition,omitempty"`
	Offset     int64   `json:"offset,omitempty"`
	HW         int64   `json:"hw,omitempty"`
	Group      string  `json:"group,omitempty"`
	Partitions []int32 `json:"partitions,omitempty"`
	ISR        []int32 `json:"isr,omitempty"`
	Idem       bool    `json:"idem,omitempty"`
	Fault      string  `json:"fault,omitempty"`
	Brokers    []int32 `json:"brokers,omitempty"`
	Err        string  `json:"error,omitempty"`
	Note       string  `json:"note,omitempty"`
	Meta       *Meta   `json:"meta,omitempty"`
}

// Recorder appends ops to a history, stamping each with the time since
// the recorder started. Safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	start time.Time
	w     *bufio.Writer
	f     io.Closer
	enc   *json.Encoder
	err   error
}

// NewRecorder creates path and writes the start line.
func NewRecorder(path string, m Meta) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	r := newRecorder(f, f)
	m.Schema = Schema
	r.Record(Op{Type: TStart, Meta: &m})
	return r, nil
}

func newRecorder(w io.Writer, c io.Closer) *Recorder {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &Recorder{start: time.Now(), w: bw, f: c, enc: json.NewEncoder(bw)}
}

// Since is the history time of t.
func (r *Recorder) Since(t time.Time) float64 { return t.Sub(r.start).Seconds() }

// Now is the current history time.
func (r *Recorder) Now() float64 { return r.Since(time.Now()) }

// Record stamps op with the current time and appends it.
func (r *Recorder) Record(op Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.T = time.Since(r.start).Seconds()
	if r.err == nil {
		r.err = r.enc.Encode(op)
	}
}

// Close flushes and closes the history.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.err
	if ferr := r.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// ErrHistory marks a history that cannot be read.
var ErrHistory = errors.New("invalid history")

// ReadHistory reads a history file.
func ReadHistory(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeHistory(f)
}

// DecodeHistory reads history lines; the first must be a start line of a
// schema this package knows.
func DecodeHistory(rd io.Reader) ([]Op, error) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ops []Op
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrHistory, line, err)
		}
		if len(ops) == 0 {
			if op.Type != TStart || op.Meta == nil {
				return nil, fmt.Errorf("%w: line %d: the first line must have type %q and a meta object", ErrHistory, line, TStart)
			}
			if op.Meta.Schema < 1 || op.Meta.Schema > Schema {
				return nil, fmt.Errorf("%w: schema %d: this kbench reads schema 1 to %d", ErrHistory, op.Meta.Schema, Schema)
			}
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHistory, err)
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrHistory)
	}
	return ops, nil
}
