package shipper

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/libs/logparse"
	"github.com/bulwarkhq/bulwark/libs/tail"
)

// logpushTest is the line Cloudflare pushes when a job with an HTTP
// destination is created, to check the endpoint answers; it is not a request.
var logpushTest = []byte(`{"content":"tests"}`)

// serveLogpush accepts Cloudflare Logpush's HTTP destination on LogpushAddr
// until ctx is done.
func (s *Shipper) serveLogpush(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.LogpushAddr)
	if err != nil {
		return fmt.Errorf("logpush listener on %s (BULWARK_SHIPPER_LOGPUSH_ADDR): %w", s.cfg.LogpushAddr, err)
	}
	srv := &http.Server{Handler: s.LogpushHandler(), ReadHeaderTimeout: 10 * time.Second}
	s.log.Info("accepting Cloudflare Logpush pushes", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		return fmt.Errorf("logpush server: %w", err)
	}
}

// LogpushHandler handles POSTs of gzip'd (or plain) NDJSON in Logpush's
// `http_requests` format. It answers 200 only once Kafka acknowledged every
// line of the push (lines it cannot parse go to the dead-letter topic), and
// 503 otherwise, which makes Logpush retry the push: nothing is lost.
// The source name is "logpush:<job>" from the `job` query parameter.
func (s *Shipper) LogpushHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, body := s.handleLogpush(r)
		s.metrics.logpushRequests.WithLabelValues(strconv.Itoa(code)).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
}

type logpushReply struct {
	Shipped  int64  `json:"shipped"`
	Rejected int64  `json:"rejected"`
	Error    string `json:"error,omitempty"`
}

func (s *Shipper) handleLogpush(r *http.Request) (int, logpushReply) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, logpushReply{Error: "POST gzip'd NDJSON"}
	}
	if s.cfg.LogpushToken != "" {
		want := "Bearer " + s.cfg.LogpushToken
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
			return http.StatusUnauthorized, logpushReply{Error: "missing or wrong bearer token"}
		}
	}
	job := r.URL.Query().Get("job")
	if job == "" {
		job = "default"
	}
	source := "logpush:" + job
	body, err := decompress(r)
	if err != nil {
		return http.StatusBadRequest, logpushReply{Error: err.Error()}
	}
	defer body.Close()

	// Pushes are Cloudflare's layout whatever format the files are in.
	popts := s.popts
	popts.LogFormat, popts.JSONFields = "", nil
	parser, err := logparse.New(logparse.FormatCloudflare, popts)
	if err != nil {
		return http.StatusInternalServerError, logpushReply{Error: err.Error()}
	}
	enc := newEncoder(s, source, parser)
	enc.format = string(logparse.FormatCloudflare)

	var (
		wg               sync.WaitGroup
		shipped, dropped int64
		mu               sync.Mutex
	)
	ctx := r.Context()
	sc := bufio.NewScanner(io.LimitReader(body, s.cfg.LogpushMaxBytes))
	sc.Buffer(make([]byte, 64<<10), s.cfg.MaxLineBytes)
	var offset int64
	for sc.Scan() {
		line := sc.Bytes()
		start := offset
		offset += int64(len(line)) + 1
		if len(bytes.TrimSpace(line)) == 0 || bytes.Equal(bytes.TrimSpace(line), logpushTest) {
			continue
		}
		s.read.Add(1)
		s.metrics.linesRead.WithLabelValues(source).Inc()
		wg.Add(1)
		var once sync.Once
		err := enc.ship(ctx, tail.Line{Data: line, Offset: start, End: offset}, func(topic string, _ int32, _ int64) {
			once.Do(func() {
				mu.Lock()
				if topic == s.topics.Requests {
					shipped++
				} else {
					dropped++
				}
				mu.Unlock()
				wg.Done()
			})
		})
		if err != nil {
			return http.StatusServiceUnavailable, logpushReply{Error: "stopping: " + err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		// An over-long line or a cut body: refuse the push; Logpush retries it.
		return http.StatusBadRequest, logpushReply{Error: "read push: " + err.Error()}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return http.StatusOK, logpushReply{Shipped: shipped, Rejected: dropped}
	case <-ctx.Done():
		return http.StatusServiceUnavailable, logpushReply{Error: "Kafka did not acknowledge the push in time; retry"}
	}
}

// decompress returns the request body, gunzipped when it is gzip (by header
// or by its magic bytes: Logpush sends gzip without always saying so).
func decompress(r *http.Request) (io.ReadCloser, error) {
	br := bufio.NewReader(r.Body)
	magic, _ := br.Peek(2)
	if r.Header.Get("Content-Encoding") == "gzip" || bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		return zr, nil
	}
	if r.Header.Get("Content-Encoding") != "" && r.Header.Get("Content-Encoding") != "identity" {
		return nil, errors.New("unsupported Content-Encoding " + strconv.Quote(r.Header.Get("Content-Encoding")))
	}
	return io.NopCloser(br), nil
}
