package session

import (
	"bufio"
	"io"
)

// Buffer is a buffered stdout that knows how many bytes reached the file,
// so that a Stream counts as reported only the events whose bytes were
// all written, also when a write fails half-way (a full disk, a reader
// that went away).
type Buffer struct {
	*bufio.Writer
	file *countingWriter
}

// NewBuffer buffers size bytes in front of w.
func NewBuffer(w io.Writer, size int) *Buffer {
	c := &countingWriter{w: w}
	return &Buffer{Writer: bufio.NewWriterSize(c, size), file: c}
}

// accepted returns the bytes written to the buffer so far.
func (b *Buffer) accepted() uint64 { return b.file.n + uint64(b.Buffered()) }

// written returns the bytes that reached the file.
func (b *Buffer) written() uint64 { return b.file.n }

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}
