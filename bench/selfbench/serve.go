package selfbench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/bench"
	kt "github.com/kbench/kbench/target"
	"github.com/kbench/kbench/target/nullbroker"
)

// ServeOptions shape a served target.
type ServeOptions struct {
	// RecordSize is the value size of the null broker's fetched records.
	RecordSize int
	// Partitions of topics created without a count.
	Partitions int32
	// StoreDir is where the store-only ceiling writes its partition files.
	StoreDir string
}

// Serve runs the ceiling (null broker), the store-only ceiling or kfake target on a free loopback
// port until ctx ends; it prints "selfbench KIND listening on ADDR" once
// ready. The harness runs it as `kbench selfbench serve KIND` so these
// targets, like the kbench brokers, have a process of their own.
func Serve(ctx context.Context, k Kind, o ServeOptions, stdout io.Writer) error {
	if o.Partitions < 1 {
		return fmt.Errorf("serve %s: %d partitions: want at least 1", k, o.Partitions)
	}
	var addr string
	switch k {
	case Ceiling, StoreOnly:
		if o.RecordSize < 0 {
			return fmt.Errorf("serve %s: record size %d: want at least 0", k, o.RecordSize)
		}
		opts := []nullbroker.Opt{nullbroker.FetchRecord(nil, payload(o.RecordSize), stampHeader()), nullbroker.DefaultPartitions(o.Partitions)}
		if k == StoreOnly {
			if o.StoreDir == "" {
				return fmt.Errorf("serve %s: no store directory (--store-dir)", k)
			}
			opts = append(opts, nullbroker.StoreDir(o.StoreDir))
		}
		b, err := nullbroker.Start(ctx, opts...)
		if err != nil {
			return err
		}
		defer b.Close()
		addr = b.Addr()
	case Kfake:
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(int(o.Partitions)))
		if err != nil {
			return fmt.Errorf("serve kfake: %w", err)
		}
		defer c.Close()
		addr = c.ListenAddrs()[0]
	default:
		return fmt.Errorf("serve: target %q is not served here (want %s, %s or %s)", k, Ceiling, StoreOnly, Kfake)
	}
	fmt.Fprintln(stdout, kt.ListeningLine("selfbench "+string(k), addr))
	<-ctx.Done()
	return nil
}

// stampHeader has the shape of the header every kbench-produced record
// carries, so fetched records match what the other targets serve.
func stampHeader() kmsg.Header {
	return kmsg.Header{Key: bench.StampHeader, Value: make([]byte, 16)}
}

// payload is n bytes like the load generator's random payload at the
// harness's compressibility: half repeated text, half random.
func payload(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	const text = "kbench selfbench payload: repeated text a codec finds. "
	for off := 0; off < n; off += 64 {
		end := min(off+64, n)
		if (off/64)%2 == 0 {
			copy(b[off:end], text)
			continue
		}
		for i := off; i < end; i++ {
			b[i] = byte(rng.Uint32())
		}
	}
	return b
}
