package cluster

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kill SIGKILLs broker id (a crash: no flush, no controlled shutdown) and
// returns once the process is reaped. A broker already down is left alone.
func (c *Cluster) Kill(id int32) error {
	return c.lifecycle(id, func(b *broker) error { return c.stopProc(b, true) })
}

// Stop shuts broker id down gracefully with SIGTERM (SIGKILL after
// StopTimeout) and returns once it has exited.
func (c *Cluster) Stop(id int32) error {
	return c.lifecycle(id, func(b *broker) error { return c.stopProc(b, false) })
}

// Restart starts broker id again on the same data dir and port, killing it
// first if it runs, and returns once it listens and has registered anew.
// The new process starts without faults.
func (c *Cluster) Restart(id int32) error {
	return c.lifecycle(id, func(b *broker) error {
		if err := c.stopProc(b, true); err != nil {
			return err
		}
		c.mu.Lock()
		b.restarts++
		c.mu.Unlock()
		return c.spawn(context.Background(), b)
	})
}

// Pause SIGSTOPs broker id: it keeps its sockets and memory but answers
// nothing, like a long GC pause or a hung disk. It returns once the kernel
// reports the process stopped.
func (c *Cluster) Pause(id int32) error {
	return c.lifecycle(id, func(b *broker) error {
		c.mu.Lock()
		state, pid := b.state, b.pid
		c.mu.Unlock()
		switch state {
		case Paused:
			return nil
		case Running:
		default:
			return fmt.Errorf("pause broker %d (%s): %w", id, state, ErrNotRunning)
		}
		signalGroup(pid, syscall.SIGSTOP)
		if err := waitProcState(pid, 'T', 5*time.Second); err != nil {
			return fmt.Errorf("pause broker %d: %w", id, err)
		}
		c.mu.Lock()
		b.state = Paused
		c.mu.Unlock()
		return nil
	})
}

// Resume SIGCONTs a paused broker id.
func (c *Cluster) Resume(id int32) error {
	return c.lifecycle(id, func(b *broker) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch b.state {
		case Running:
			return nil
		case Paused:
		default:
			return fmt.Errorf("resume broker %d (%s): %w", id, b.state, ErrNotRunning)
		}
		signalGroup(b.pid, syscall.SIGCONT)
		b.state = Running
		return nil
	})
}

// Delay adds d before each replication fetch broker id makes as a follower;
// 0 clears it.
func (c *Cluster) Delay(id int32, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("delay %s: %w: must not be negative", d, ErrInvalid)
	}
	arg := "0"
	if d > 0 {
		arg = d.String()
	}
	return c.command(id, faultCommand("delay", arg), func(b *broker) { b.delay = d })
}

// Bandwidth caps broker id's replication fetch traffic at bytesPerSec; 0
// removes the cap.
func (c *Cluster) Bandwidth(id int32, bytesPerSec int64) error {
	if bytesPerSec < 0 {
		return fmt.Errorf("bandwidth %d: %w: must not be negative", bytesPerSec, ErrInvalid)
	}
	return c.command(id, faultCommand("bandwidth", strconv.FormatInt(bytesPerSec, 10)), func(b *broker) { b.bandwidth = bytesPerSec })
}

// DropProduce makes broker id drop that fraction of produce responses after
// appending, closing the connection, so clients retry; 0 stops it.
func (c *Cluster) DropProduce(id int32, fraction float64) error {
	if !(fraction >= 0 && fraction <= 1) {
		return fmt.Errorf("drop-produce %v: %w: want a fraction in [0, 1]", fraction, ErrInvalid)
	}
	return c.command(id, faultCommand("drop-produce", strconv.FormatFloat(fraction, 'g', -1, 64)), func(b *broker) { b.dropProduce = fraction })
}

// lifecycle runs op on broker id with its operations serialised.
func (c *Cluster) lifecycle(id int32, op func(*broker) error) error {
	b, err := c.get(id)
	if err != nil {
		return err
	}
	b.ops.Lock()
	defer b.ops.Unlock()
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return ErrClosed
	}
	return op(b)
}

// command writes one fault command line to broker id's stdin and, once
// written, records it with set.
func (c *Cluster) command(id int32, line string, set func(*broker)) error {
	return c.lifecycle(id, func(b *broker) error {
		c.mu.Lock()
		w, state := b.stdin, b.state
		c.mu.Unlock()
		if w == nil || (state != Running && state != Paused) {
			return fmt.Errorf("broker %d (%s): %w", id, state, ErrNotRunning)
		}
		// Written outside mu: a paused broker with a full pipe must not
		// freeze the supervisor.
		if _, err := io.WriteString(w, line); err != nil {
			return fmt.Errorf("broker %d: send %q: %w", id, strings.TrimSpace(line), err)
		}
		c.mu.Lock()
		set(b)
		c.mu.Unlock()
		return nil
	})
}
