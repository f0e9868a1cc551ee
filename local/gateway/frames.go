package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// API Gateway limits single frames (32 KB) besides whole messages (128 KB).
// The WebSocket library limits messages only, so frameConn sits under it and
// reads the length field of every frame header the client sends. It parses
// nothing else; the library still does all of the protocol.

var errFrameTooBig = errors.New("frame exceeds the frame size limit")

// frameConn is the hijacked client connection as the library sees it.
type frameConn struct {
	net.Conn
	limit   int64
	prefix  []byte // bytes the HTTP server had buffered past the handshake
	tripped atomic.Bool

	hdr       [14]byte
	hdrLen    int   // header bytes collected so far
	remaining int64 // payload bytes of the current frame still to pass
}

// Read passes bytes through while following frame boundaries. When a data
// frame's header announces more than the limit, Read returns the data up to
// the end of that header and fails every later call, so the library stops
// before reading the payload.
func (c *frameConn) Read(p []byte) (int, error) {
	if c.tripped.Load() {
		return 0, errFrameTooBig
	}
	var n int
	var err error
	if len(c.prefix) > 0 {
		n = copy(p, c.prefix)
		c.prefix = c.prefix[n:]
	} else {
		n, err = c.Conn.Read(p)
	}
	for i := 0; i < n; {
		if c.remaining > 0 {
			skip := min(c.remaining, int64(n-i))
			c.remaining -= skip
			i += int(skip)
			continue
		}
		c.hdr[c.hdrLen] = p[i]
		c.hdrLen++
		i++
		if c.hdrLen < headerSize(c.hdr[:c.hdrLen]) {
			continue
		}
		opcode := c.hdr[0] & 0x0f
		length := payloadLength(c.hdr[:c.hdrLen])
		c.hdrLen = 0
		if opcode < 0x8 && length > c.limit { // continuation, text or binary
			c.tripped.Store(true)
			return i, nil
		}
		c.remaining = length
	}
	return n, err
}

// headerSize is the full size of a frame header whose first bytes are h.
func headerSize(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	size := 2
	switch h[1] & 0x7f {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if h[1]&0x80 != 0 {
		size += 4 // masking key
	}
	return size
}

func payloadLength(h []byte) int64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return int64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return int64(binary.BigEndian.Uint64(h[2:10]) & (1<<63 - 1))
	default:
		return int64(l)
	}
}

// Close, after an oversized frame, half-closes and drains what the client
// still sends for a moment: closing with unread data would reset the TCP
// connection and could cost the client the close frame that says 1009.
func (c *frameConn) Close() error {
	if c.tripped.Load() {
		if tc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
			_ = c.Conn.SetReadDeadline(time.Now().Add(time.Second))
			_, _ = io.Copy(io.Discard, c.Conn)
		}
	}
	return c.Conn.Close()
}

// frameLimitWriter hands the library a frameConn when it hijacks the
// connection.
type frameLimitWriter struct {
	http.ResponseWriter
	limit int64
	conn  *frameConn
}

func (w *frameLimitWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	w.conn = &frameConn{Conn: nc, limit: w.limit, prefix: append([]byte(nil), buffered...)}
	brw.Reader.Reset(w.conn)
	return w.conn, brw, nil
}
