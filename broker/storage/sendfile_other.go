//go:build !linux

package storage

import (
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
)

// Sendfile copies c to conn through user space; zero-copy sending is implemented for Linux
// only, so sent is never incremented here.
func Sendfile(conn syscall.Conn, c Chunk, sent *atomic.Int64) (int64, error) {
	w, ok := conn.(io.Writer)
	if !ok {
		return 0, fmt.Errorf("sendfile: %T is not a writer", conn)
	}
	n, err := io.Copy(w, io.NewSectionReader(c.File, c.Pos, c.Len))
	if err == nil && n < c.Len {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
