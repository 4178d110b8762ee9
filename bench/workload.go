package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbench/kbench/internal/units"
)

// Workload says what records look like. The string specs are what users
// type on the command line and in profiles; Validate checks them.
type Workload struct {
	// RecordSize is N (bytes, or with KiB/MiB), uniform:MIN:MAX or normal:MEAN:STDDEV.
	RecordSize string `json:"record_size"`
	// Keys is none, round-robin (a new key per record, in sequence),
	// round-robin:N (N keys in turn), uniform:N or zipf:N:S (S > 1; hot keys).
	Keys string `json:"keys"`
	// Payload is random, json (clickstream events), file:PATH (lines sampled)
	// or blob:PATH (the whole file is every value, as OpenMessaging
	// Benchmark's payloadFile).
	Payload string `json:"payload"`
	// Compressibility is the share (0..1) of each random payload made of
	// repeated text; the rest is random bytes, so a good codec reaches about
	// 1/(1-Compressibility):1.
	Compressibility float64 `json:"compressibility"`
	// Seed makes payloads and keys reproducible; 0 picks one (and the result records it).
	Seed uint64 `json:"seed"`
	// PayloadPool is the size of the buffer random payloads are sampled
	// from, like 64MiB: empty picks the default (64 batches of the
	// producer's batch.size, at least 1 MiB), 0 generates every value
	// afresh. Values are read through the pool in order, each at a 64-byte
	// boundary zero or one block past the one before, the walk restarting
	// at a random block at the pool's end; so values differ and a codec,
	// which only ever sees one batch, finds about as much to repeat as in
	// fresh values, and a value costs next to nothing per record.
	PayloadPool string `json:"payload_pool,omitempty"`
}

// Payload pool defaults: at least this many bytes, and at least this many
// batches, so the records of one batch seldom share bytes.
const (
	defaultPoolBytes   = 1 << 20
	defaultPoolBatches = 64
)

type sizeDist struct {
	kind     string // fixed, uniform, normal
	a, b     float64
	fixedLen int
}

// maxRecordBytes bounds one generated record value.
const maxRecordBytes = 64 << 20

func parseByteCount(s string) (int, error) {
	n, err := units.ParseBytes(s)
	if err != nil {
		return 0, err
	}
	if n > maxRecordBytes {
		return 0, fmt.Errorf("%q is larger than %s", s, units.FormatBytes(maxRecordBytes))
	}
	return int(n), nil
}

func parseSizeDist(spec string) (sizeDist, error) {
	parts := strings.Split(spec, ":")
	bad := func(err error) (sizeDist, error) {
		return sizeDist{}, fmt.Errorf("record size %q: %w (want N, uniform:MIN:MAX or normal:MEAN:STDDEV)", spec, err)
	}
	switch {
	case len(parts) == 1:
		n, err := parseByteCount(parts[0])
		if err != nil {
			return bad(err)
		}
		return sizeDist{kind: "fixed", fixedLen: n}, nil
	case len(parts) == 3 && (parts[0] == "uniform" || parts[0] == "normal"):
		a, err := parseByteCount(parts[1])
		if err != nil {
			return bad(err)
		}
		b, err := parseByteCount(parts[2])
		if err != nil {
			return bad(err)
		}
		if parts[0] == "uniform" && b < a {
			return bad(errors.New("max below min"))
		}
		return sizeDist{kind: parts[0], a: float64(a), b: float64(b)}, nil
	}
	return bad(errors.New("unknown form"))
}

// largest is the largest size the distribution usually draws (a normal
// one up to 4 standard deviations above the mean).
func (d sizeDist) largest() int {
	switch d.kind {
	case "uniform":
		return int(d.b)
	case "normal":
		return int(min(d.a+4*d.b, 64<<20))
	}
	return d.fixedLen
}

func (d sizeDist) sample(rng *rand.Rand) int {
	switch d.kind {
	case "uniform":
		return int(d.a) + rng.IntN(int(d.b-d.a)+1)
	case "normal":
		// Clamped at 0 and 64 MiB so an unlucky draw is still a legal record.
		return int(math.Min(math.Max(math.Round(rng.NormFloat64()*d.b+d.a), 0), 64<<20))
	}
	return d.fixedLen
}

type keySpec struct {
	kind string // none, seq, cycle, uniform, zipf
	n    uint64
	s    float64
}

func parseKeySpec(spec string) (keySpec, error) {
	parts := strings.Split(spec, ":")
	bad := func(why string) (keySpec, error) {
		return keySpec{}, fmt.Errorf("keys %q: %s (want none, round-robin, round-robin:N, uniform:N or zipf:N:S)", spec, why)
	}
	count := func(s string) (uint64, bool) {
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil && n >= 1
	}
	switch {
	case spec == "" || spec == "none":
		return keySpec{kind: "none"}, nil
	case spec == "round-robin":
		return keySpec{kind: "seq"}, nil
	case len(parts) == 2 && (parts[0] == "round-robin" || parts[0] == "uniform"):
		n, ok := count(parts[1])
		if !ok {
			return bad("N must be a whole number >= 1")
		}
		kind := "uniform"
		if parts[0] == "round-robin" {
			kind = "cycle"
		}
		return keySpec{kind: kind, n: n}, nil
	case len(parts) == 3 && parts[0] == "zipf":
		n, ok := count(parts[1])
		if !ok || n < 2 {
			return bad("N must be a whole number >= 2")
		}
		s, err := strconv.ParseFloat(parts[2], 64)
		if err != nil || s <= 1 {
			return bad("S must be a number > 1")
		}
		return keySpec{kind: "zipf", n: n, s: s}, nil
	}
	return bad("unknown form")
}

type payloadSpec struct {
	kind  string // random, json, file
	lines [][]byte
}

func parsePayloadSpec(spec string) (payloadSpec, error) {
	switch {
	case spec == "" || spec == "random":
		return payloadSpec{kind: "random"}, nil
	case spec == "json":
		return payloadSpec{kind: "json"}, nil
	case strings.HasPrefix(spec, "file:"):
		lines, err := readLines(strings.TrimPrefix(spec, "file:"))
		if err != nil {
			return payloadSpec{}, fmt.Errorf("payload %q: %w", spec, err)
		}
		return payloadSpec{kind: "file", lines: lines}, nil
	case strings.HasPrefix(spec, "blob:"):
		blob, err := readBlob(strings.TrimPrefix(spec, "blob:"))
		if err != nil {
			return payloadSpec{}, fmt.Errorf("payload %q: %w", spec, err)
		}
		return payloadSpec{kind: "file", lines: [][]byte{blob}}, nil
	}
	return payloadSpec{}, fmt.Errorf("payload %q: want random, json, file:PATH or blob:PATH", spec)
}

// readLines loads the non-empty lines of a sample file (at most 64 MiB).
func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open payload file: %w", err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	total := 0
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		total += len(sc.Bytes())
		if total > 64<<20 {
			return nil, fmt.Errorf("payload file %s is larger than 64 MiB", path)
		}
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read payload file: %w", err)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("payload file %s has no non-empty lines", path)
	}
	return lines, nil
}

// readBlob loads a whole payload file (1 byte to 64 MiB).
func readBlob(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open payload file: %w", err)
	}
	if fi.Size() == 0 || fi.Size() > maxRecordBytes {
		return nil, fmt.Errorf("payload file %s has %d bytes: want 1 byte to %s", path, fi.Size(), units.FormatBytes(maxRecordBytes))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read payload file: %w", err)
	}
	return b, nil
}

// parsedWorkload is a validated Workload, shared read-only by generators.
type parsedWorkload struct {
	size      sizeDist
	keys      keySpec
	payload   payloadSpec
	compr     float64
	seed      uint64
	poolBytes int // -1: the default
	// pool is the buffer random values are sliced from; built once per run
	// by buildPool (nil: values are generated afresh).
	pool []byte
}

func (w Workload) parse() (*parsedWorkload, error) {
	size, err := parseSizeDist(cmp.Or(w.RecordSize, "1024"))
	if err != nil {
		return nil, err
	}
	keys, err := parseKeySpec(w.Keys)
	if err != nil {
		return nil, err
	}
	payload, err := parsePayloadSpec(w.Payload)
	if err != nil {
		return nil, err
	}
	if w.Compressibility < 0 || w.Compressibility > 1 || math.IsNaN(w.Compressibility) {
		return nil, fmt.Errorf("compressibility %v: want a share between 0 and 1", w.Compressibility)
	}
	pool := -1
	if w.PayloadPool != "" {
		if pool, err = parseByteCount(w.PayloadPool); err != nil {
			return nil, fmt.Errorf("payload pool: %w", err)
		}
	}
	return &parsedWorkload{size: size, keys: keys, payload: payload, compr: w.Compressibility, seed: w.Seed, poolBytes: pool}, nil
}

// generator makes the records of one producer. It is not safe for
// concurrent use; each producer owns one.
type generator struct {
	w   *parsedWorkload
	rng *rand.Rand
	// writes is set when values are written into the buffer given to
	// appendValue (not sliced from the pool or the file's lines);
	// valueRoom is then room enough for most.
	writes    bool
	valueRoom int
	// poolOff is where the next value is read from the payload pool.
	poolOff int
	// keyed is set when records have keys; fixedPool, when above 0, is the
	// size of every value, each a slice of the payload pool. Both are
	// decided once: the per-record path compares no strings.
	keyed     bool
	fixedPool int
	// bits are random bits for the pool walk's skips, nbits of them
	// unused: one draw from rng serves 64 records.
	bits  uint64
	nbits int
	zipf  *rand.Zipf
	words []string
	pages []string
	refs  []string
	uas   []string
	ctry  []string
	kinds []string
	devs  []string
}

// filler is the repeated text that makes random payloads compressible.
const filler = "kbench compressible filler text: the quick brown fox jumps over the lazy dog. "

func newGenerator(w *parsedWorkload, stream uint64) *generator {
	rng := rand.New(rand.NewPCG(w.seed, stream))
	g := &generator{w: w, rng: rng, writes: w.payload.kind == "json" || w.payload.kind == "random" && w.pool == nil}
	g.valueRoom = w.size.largest()
	g.poolOff = len(w.pool) // the first value starts the walk at a random block
	g.keyed = w.keys.kind != "none"
	if w.payload.kind == "random" && w.size.kind == "fixed" && w.size.fixedLen > 0 && w.size.fixedLen <= len(w.pool) {
		g.fixedPool = w.size.fixedLen
	}
	if w.payload.kind == "json" {
		g.valueRoom = max(g.valueRoom, 384) + 64
	}
	if w.keys.kind == "zipf" {
		g.zipf = rand.NewZipf(rng, w.keys.s, 1, w.keys.n-1)
	}
	if w.payload.kind == "json" {
		g.words = strings.Fields("alpha beta gamma delta summer winter sale shoes jacket red blue green size small medium large promo newsletter cart wishlist review rating coupon free shipping express gift")
		g.pages = []string{"/", "/search", "/cart", "/checkout", "/account", "/category/shoes", "/category/jackets", "/category/bags", "/item/", "/item/", "/item/", "/help/returns"}
		g.refs = []string{"https://www.google.com/", "https://www.bing.com/", "https://news.example.org/", "", "", "https://mail.example.net/promo"}
		g.uas = []string{
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
			"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
			"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
		}
		g.ctry = []string{"DE", "US", "FR", "GB", "NL", "PL", "ES", "IT", "SE", "BR", "IN", "JP"}
		g.kinds = []string{"page_view", "page_view", "page_view", "click", "click", "add_to_cart", "search", "purchase"}
		g.devs = []string{"desktop", "mobile", "mobile", "tablet"}
	}
	return g
}

// Records is the record stream of one producer of a run with this workload:
// the keys and values it sends, in the order it sends them. The same
// workload (seed and payload pool included), producer and batch size give
// the same bytes, so records measured outside a run (kbench codecs) are
// the records a run sends. Not safe for concurrent use.
type Records struct {
	g   *generator
	seq uint64
}

// Records returns the stream of producer (0 for the first) in a run whose
// batch.size is batchBytes, which sizes the default payload pool. The seed
// is used as given: a run picks one for seed 0 (PickSeed).
func (w Workload) Records(producer, batchBytes int) (*Records, error) {
	p, err := w.parse()
	if err != nil {
		return nil, err
	}
	p.buildPool(batchBytes)
	return &Records{g: newGenerator(p, uint64(producer))}, nil
}

// Next returns the next record's key (nil when records are unkeyed) and
// value, as the producer makes them; at is the time a json event says it
// happened. The value may be shared with the payload pool: do not write to it.
func (r *Records) Next(at time.Time) (key, value []byte) {
	key = r.g.key(r.seq)
	value = r.g.value(key, at)
	r.seq++
	return key, value
}

// PickSeed gives a workload with seed 0 a random seed, as a run does, so
// the seed recorded with the results reproduces them.
func (w *Workload) PickSeed() {
	if w.Seed == 0 {
		w.Seed = rand.Uint64() | 1
	}
}

// maxKeyLen is the longest key: "key-" and 20 digits.
const maxKeyLen = 24

// key returns the key for record seq, nil when records are unkeyed.
func (g *generator) key(seq uint64) []byte { return g.appendKey(nil, seq) }

// value returns a payload of its own; key may be used inside it (json
// session id).
func (g *generator) value(key []byte, now time.Time) []byte { return g.appendValue(nil, key, now) }

// appendKey appends the key for record seq to dst; nil when records are
// unkeyed.
func (g *generator) appendKey(dst []byte, seq uint64) []byte {
	var n uint64
	switch g.w.keys.kind {
	case "none":
		return nil
	case "seq":
		n = seq
	case "cycle":
		n = seq % g.w.keys.n
	case "uniform":
		n = g.rng.Uint64N(g.w.keys.n)
	case "zipf":
		n = g.zipf.Uint64()
	}
	return strconv.AppendUint(append(dst, "key-"...), n, 10)
}

// appendValue returns the next payload: a slice of the payload pool or of
// the file's lines, which nobody writes to, or else a value appended to
// dst. key may be used inside it (json session id).
func (g *generator) appendValue(dst, key []byte, now time.Time) []byte {
	if g.fixedPool > 0 {
		return g.poolValue(g.fixedPool)
	}
	switch g.w.payload.kind {
	case "file":
		return g.w.payload.lines[g.rng.IntN(len(g.w.payload.lines))]
	case "json":
		return g.jsonEvent(dst, key, now, g.w.size.sample(g.rng))
	}
	n := g.w.size.sample(g.rng)
	if n <= len(g.w.pool) {
		return g.poolValue(n)
	}
	return g.random(dst, n)
}

// poolValue is the next n bytes of the payload pool. Values are read
// through the pool in order, each at a block boundary (so it has the block
// layout of a fresh value) and one or two blocks past the end of the one
// before; past the end of the pool the walk starts again at a random
// block. Reading in order lets the CPU prefetch: values at random offsets
// of a pool larger than its caches cost more to copy into the request than
// all the rest of kbench's per-record work. A batch never holds a value
// twice from one pass, the pool being 64 batches long.
func (g *generator) poolValue(n int) []byte {
	pool := g.w.pool
	off := g.poolOff
	if off+n > len(pool) {
		off = 64 * g.rng.IntN((len(pool)-n)/64+1)
	}
	if g.nbits == 0 {
		g.bits, g.nbits = g.rng.Uint64(), 64
	}
	g.poolOff = off + (n+63)&^63 + 64*int(g.bits&1)
	g.bits >>= 1
	g.nbits--
	return pool[off : off+n : off+n]
}

// DefaultPayloadPool is the payload pool size used when Workload.PayloadPool
// is empty, for batches of up to batchBytes: the larger of 1 MiB and 64
// batches (small enough to stay in the CPU's caches at the default
// batch.size).
func DefaultPayloadPool(batchBytes int) int {
	return max(defaultPoolBytes, defaultPoolBatches*batchBytes)
}

// buildPool fills the payload pool of a random-payload workload, for
// batches of up to batchBytes: the size asked for, or DefaultPayloadPool;
// in any case at least twice the largest size the
// distribution usually draws (a larger draw is generated afresh).
func (w *parsedWorkload) buildPool(batchBytes int) {
	if w.payload.kind != "random" || w.poolBytes == 0 || w.pool != nil {
		return
	}
	size := w.poolBytes
	if size < 0 {
		size = DefaultPayloadPool(batchBytes)
	}
	g := newGenerator(w, math.MaxUint64)
	w.pool = g.random(nil, max(size, 2*w.size.largest()))
}

// random appends n bytes to dst in 64-byte blocks, each block either filler
// text (with probability compressibility) or random bytes.
func (g *generator) random(dst []byte, n int) []byte {
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	b := dst[start:]
	for off := 0; off < n; off += 64 {
		end := min(off+64, n)
		if g.w.compr > 0 && g.rng.Float64() < g.w.compr {
			copy(b[off:end], filler)
			continue
		}
		for i := off; i < end; i += 8 {
			v := g.rng.Uint64()
			for j := i; j < min(i+8, end); j++ {
				b[j] = byte(v)
				v >>= 8
			}
		}
	}
	return dst
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// jsonEvent writes a clickstream event, padded with a words field towards
// size (never truncated: a realistic event has a natural minimum size).
func (g *generator) jsonEvent(dst, key []byte, now time.Time, size int) []byte {
	b := append(slices.Grow(dst, max(size, 384)), `{"event_id":"`...)
	b = strconv.AppendUint(b, g.rng.Uint64(), 16)
	b = append(b, `","session_id":"`...)
	if key != nil {
		b = append(b, key...)
	} else {
		b = append(b, "s-"...)
		b = strconv.AppendUint(b, g.rng.Uint64N(100000), 10)
	}
	b = append(b, `","user":"user-`...)
	b = strconv.AppendUint(b, g.rng.Uint64N(1000000), 10)
	b = append(b, `","ts":"`...)
	b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","type":"`...)
	b = append(b, pick(g.rng, g.kinds)...)
	b = append(b, `","url":"https://shop.example.com`...)
	page := pick(g.rng, g.pages)
	b = append(b, page...)
	if strings.HasSuffix(page, "/") && page != "/" {
		b = strconv.AppendUint(b, g.rng.Uint64N(50000), 10)
	}
	b = append(b, `","referrer":"`...)
	b = append(b, pick(g.rng, g.refs)...)
	b = append(b, `","user_agent":"`...)
	b = append(b, pick(g.rng, g.uas)...)
	b = append(b, `","country":"`...)
	b = append(b, pick(g.rng, g.ctry)...)
	b = append(b, `","device":"`...)
	b = append(b, pick(g.rng, g.devs)...)
	b = append(b, `","duration_ms":`...)
	b = strconv.AppendUint(b, g.rng.Uint64N(30000), 10)
	const tagsOpen, tagsClose = `,"tags":"`, `"}`
	if len(b)+len(tagsOpen)+len(tagsClose) >= size {
		return append(b, '}')
	}
	b = append(b, tagsOpen...)
	room := size - len(b) - len(tagsClose)
	for room > 0 {
		w := pick(g.rng, g.words)
		if len(w)+1 > room {
			b = append(b, "xxxxxxxxxxxxxxxx"[:room]...)
			break
		}
		b = append(append(b, w...), ' ')
		room -= len(w) + 1
	}
	return append(b, tagsClose...)
}
