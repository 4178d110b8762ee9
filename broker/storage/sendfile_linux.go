package storage

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
)

// maxSendfileChunk keeps each sendfile call under the kernel's ~2 GiB per-call limit.
const maxSendfileChunk = 1 << 30

// Sendfile sends chunk c to conn with sendfile(2) at the chunk's own offset (the file's
// shared position is never used, so concurrent sends from one file are safe), waiting for
// the socket through the runtime poller (write deadlines apply). Every byte the kernel
// reports sent is added to sent, when not nil, so callers and tests can see the zero-copy
// path was taken.
func Sendfile(conn syscall.Conn, c Chunk, sent *atomic.Int64) (int64, error) {
	dst, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile: socket: %w", err)
	}
	src, err := c.File.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile: file: %w", err)
	}
	var (
		total  int64
		off    = c.Pos
		opErr  error
		sysErr error
	)
	// Control pins the file descriptor so it cannot be closed and reused mid-send.
	ctlErr := src.Control(func(sfd uintptr) {
		opErr = dst.Write(func(dfd uintptr) bool {
			for total < c.Len {
				n, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(c.Len-total, maxSendfileChunk)))
				if n > 0 {
					total += int64(n)
					if sent != nil {
						sent.Add(int64(n))
					}
				}
				switch {
				case errors.Is(err, syscall.EINTR):
					continue
				case errors.Is(err, syscall.EAGAIN):
					return false // wait until the socket is writable
				case err != nil:
					sysErr = err
					return true
				case n == 0:
					sysErr = io.ErrUnexpectedEOF // the file is shorter than the chunk
					return true
				}
			}
			return true
		})
	})
	if err := errors.Join(ctlErr, opErr, sysErr); err != nil {
		return total, fmt.Errorf("sendfile %d bytes at %d: %w", c.Len, c.Pos, err)
	}
	return total, nil
}
