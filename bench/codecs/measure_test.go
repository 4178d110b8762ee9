package codecs

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMeasureCountsBytesAndAllocs(t *testing.T) {
	var keep [][]byte
	sizes := []int{1000, 3000}
	sp, err := measure(context.Background(), len(sizes), func(i int) int { return sizes[i] }, func(i int) error {
		keep = append(keep[:0], make([]byte, 4096)) // one heap allocation per call
		for range 2000 {                            // and some work to time
			keep[0][i]++
		}
		return nil
	}, 5, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.SamplesMBps) != 5 {
		t.Fatalf("got %d samples, want 5", len(sp.SamplesMBps))
	}
	if sp.MinMBps > sp.MedianMBps || sp.MedianMBps > sp.MaxMBps || sp.MedianMBps <= 0 {
		t.Errorf("min %v median %v max %v out of order", sp.MinMBps, sp.MedianMBps, sp.MaxMBps)
	}
	if sp.AllocsPerBatch < 0.9 || sp.AllocsPerBatch > 1.5 {
		t.Errorf("got %.2f allocations per call, want 1", sp.AllocsPerBatch)
	}
	if sp.AllocBytesPerBatch < 4096 || sp.AllocBytesPerBatch > 6000 {
		t.Errorf("got %.0f bytes allocated per call, want 4096", sp.AllocBytesPerBatch)
	}
	if got, want := sp.CPUSecPerGB, 1e3/sp.MedianMBps; got != want {
		t.Errorf("cpu s/GB %v, want %v", got, want)
	}
	if sp.BatchesPerRep < 2 {
		t.Errorf("2ms per rep ran only %d calls", sp.BatchesPerRep)
	}
}

func TestMeasureStopsOnError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	_, err := measure(context.Background(), 3, func(int) int { return 1 }, func(int) error {
		if calls++; calls == 5 {
			return boom
		}
		return nil
	}, 5, time.Millisecond)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the op's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := measure(ctx, 1, func(int) int { return 1 }, func(int) error { return nil }, 5, time.Millisecond); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
}

// An op that burns 1ms of thread CPU per 10^6 bytes must measure 1000 MB/s.
func TestMeasureSpeedIsBytesPerCPUSecond(t *testing.T) {
	if clockName != "thread-cpu" {
		t.Skip("no thread CPU clock on this platform")
	}
	clk := newCPUClock()
	sp, err := measure(context.Background(), 1, func(int) int { return 1e6 }, func(int) error {
		for start := clk.now(); clk.now()-start < time.Millisecond; {
		}
		return nil
	}, 5, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if sp.MedianMBps < 900 || sp.MedianMBps > 1010 {
		t.Errorf("got %.1f MB/s, want about 1000", sp.MedianMBps)
	}
	if sp.CPUSecPerGB < 0.99 || sp.CPUSecPerGB > 1.11 {
		t.Errorf("got %.3f CPU s/GB, want about 1", sp.CPUSecPerGB)
	}
}
