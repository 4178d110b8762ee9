package codecs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Payload produces record values. It is deliberately tiny so that the load
// generator's payloads in bench/ can stand in for these later.
type Payload interface {
	// Next appends the next record value to dst.
	Next(dst []byte) []byte
}

// Keyer is implemented by payloads whose records carry their own natural
// key (the json session id), which the "auto" key mode uses.
type Keyer interface {
	// Key appends the key of the value Next returned last.
	Key(dst []byte) []byte
}

// ParsePayload builds the payload --payload names: json, random:RATIO or
// file:PATH. recordSize is the value size for random and the size json
// events are padded to (0 leaves json events at their natural size).
func ParsePayload(spec string, recordSize int, seed uint64) (Payload, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "json":
		if arg != "" {
			return nil, fmt.Errorf("--payload: json takes no argument, got %q", spec)
		}
		return newJSONPayload(recordSize, seed), nil
	case "random":
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("--payload: %q wants random:RATIO with RATIO the random fraction of each value, 0 to 1", spec)
		}
		if recordSize <= 0 {
			return nil, fmt.Errorf("--record-size: random payloads need a size above 0, got %d", recordSize)
		}
		return &randomPayload{ratio: r, size: recordSize, rng: rand.New(rand.NewPCG(seed, 1))}, nil
	case "file":
		if arg == "" {
			return nil, fmt.Errorf("--payload: file needs a path, as file:PATH")
		}
		return newFilePayload(arg, seed)
	}
	return nil, fmt.Errorf("--payload: unknown payload %q (valid: json, random:RATIO, file:PATH)", spec)
}

// randomPayload writes values whose first RATIO of bytes are uniformly
// random and the rest zero, so the best any codec can do is about 1/RATIO.
type randomPayload struct {
	ratio float64
	size  int
	rng   *rand.Rand
}

func (p *randomPayload) Next(dst []byte) []byte {
	n := int(p.ratio*float64(p.size) + 0.5)
	for i := 0; i < n; i += 8 {
		v := p.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			dst = append(dst, byte(v>>(8*j)))
		}
	}
	for range p.size - n {
		dst = append(dst, 0)
	}
	return dst
}

// filePayload samples the non-empty lines of a file uniformly.
type filePayload struct {
	lines [][]byte
	rng   *rand.Rand
}

func newFilePayload(path string, seed uint64) (*filePayload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--payload: %w", err)
	}
	p := &filePayload{rng: rand.New(rand.NewPCG(seed, 2))}
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > 0 {
			p.lines = append(p.lines, line)
		}
	}
	if len(p.lines) == 0 {
		return nil, fmt.Errorf("--payload: %s has no non-empty lines", path)
	}
	return p, nil
}

func (p *filePayload) Next(dst []byte) []byte {
	return append(dst, p.lines[p.rng.IntN(len(p.lines))]...)
}

// keySource produces record keys; a nil result is a null key.
type keySource interface {
	key(dst []byte) []byte
}

// parseKeys reads --keys: auto (the payload's own key if it has one, else
// uniform:10000), none, or uniform:N.
func parseKeys(spec string, p Payload, seed uint64) (keySource, error) {
	switch {
	case spec == "auto":
		if k, ok := p.(Keyer); ok {
			return payloadKeys{k}, nil
		}
		return &uniformKeys{n: 10000, rng: rand.New(rand.NewPCG(seed, 3))}, nil
	case spec == "none":
		return noKeys{}, nil
	case strings.HasPrefix(spec, "uniform:"):
		n, err := strconv.Atoi(strings.TrimPrefix(spec, "uniform:"))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--keys: %q wants uniform:N with N at least 1", spec)
		}
		return &uniformKeys{n: n, rng: rand.New(rand.NewPCG(seed, 3))}, nil
	}
	return nil, fmt.Errorf("--keys: unknown key mode %q (valid: auto, none, uniform:N)", spec)
}

type noKeys struct{}

func (noKeys) key([]byte) []byte { return nil }

type payloadKeys struct{ k Keyer }

func (p payloadKeys) key(dst []byte) []byte { return p.k.Key(dst) }

// uniformKeys picks keys like "key-004217" uniformly from n of them.
type uniformKeys struct {
	n   int
	rng *rand.Rand
}

func (u *uniformKeys) key(dst []byte) []byte {
	dst = append(dst, "key-"...)
	s := strconv.Itoa(u.rng.IntN(u.n))
	for range 6 - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}
