package llm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// maxSSELine bounds one SSE line; a server that never sends a newline must
// not make Parley buffer without limit.
const maxSSELine = 4 << 20

// errLineTooLong is returned by the body filter for an SSE line over maxSSELine.
var errLineTooLong = errors.New("SSE line longer than 4 MiB")

// defaultTransport is the transport used when Config.Transport is nil. It
// sets no response-header timeout (Client does that per call) and disables
// compression: gzip makes servers and proxies buffer SSE chunks.
func defaultTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// callTransport is the RoundTripper of one Stream call. It is the only place
// that sees the response of a failed streaming call (go-openai turns it into
// an error and drops the headers), and it wraps a successful body in an
// sseFilter.
type callTransport struct {
	base http.RoundTripper
	call *call
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	t.call.watch.headersArrived()
	if err != nil {
		return nil, err
	}
	t.call.gotResponse(resp)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		f := &sseFilter{body: resp.Body, r: newReader(resp.Body)}
		t.call.body = f
		resp.Body = f
	}
	return resp, nil
}

// sseFilter passes an SSE body through line by line, dropping comment lines
// (": keep-alive", OPENROUTER PROCESSING) and the event/id/retry fields
// go-openai does not understand: go-openai counts each such line against its
// EmptyMessagesLimit and appends it to the buffer it later parses as an error
// object, which corrupts a following {"error": …} event. It also records
// whether "data: [DONE]" went past.
type sseFilter struct {
	body io.ReadCloser
	r    *bufio.Reader

	pending    []byte // the rest of the current line, not yet read out
	err        error  // sticky read error, returned once pending is drained
	sawDone    bool
	dataEvents int
	comments   int
	junk       int // lines that are no SSE at all (an HTML error page, a bare JSON body)
}

func (f *sseFilter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		line, err := f.readLine()
		if len(line) > 0 {
			f.classify(line)
		}
		f.err = err // the last line is delivered first, the error on the next Read
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// readLine reads one line including its newline, bounded by maxSSELine.
func (f *sseFilter) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := f.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxSSELine {
			return nil, errLineTooLong
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

func (f *sseFilter) classify(line []byte) {
	t := bytes.TrimSpace(line)
	switch {
	case len(t) == 0:
		f.pending = line
	case t[0] == ':':
		f.comments++
	case bytes.HasPrefix(t, []byte("event:")), bytes.HasPrefix(t, []byte("id:")), bytes.HasPrefix(t, []byte("retry:")):
		// Dropped: see the type comment.
	case bytes.HasPrefix(t, []byte("data:")):
		f.dataEvents++
		if string(bytes.TrimSpace(t[len("data:"):])) == "[DONE]" {
			f.sawDone = true
		}
		f.pending = line
	default:
		f.junk++
		f.pending = line
	}
}

func (f *sseFilter) Close() error { return f.body.Close() }

// String describes what the filter saw, for protocol error messages.
func (f *sseFilter) String() string {
	return fmt.Sprintf("%d data events, %d comments, %d non-SSE lines", f.dataEvents, f.comments, f.junk)
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 32<<10) }
