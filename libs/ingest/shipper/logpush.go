package shipper

import (
	"bytes"
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
	"sync/atomic"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
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
// line of the push (lines it cannot parse, or longer than MaxLineBytes, go to
// the dead-letter topic), and 503 otherwise, which makes Logpush retry the
// push: nothing is lost. A push that cannot be taken whole is refused before
// a line of it is produced: 413 over LogpushMaxBytes, 400 for a broken or
// cut gzip body, so a refused push's retry duplicates nothing. (A 503 after
// part of a push was acknowledged, Kafka stalling mid-push, can duplicate
// that part when Logpush retries.)
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
	p, code, err := readPush(r, s.cfg.LogpushMaxBytes)
	if err != nil {
		return code, logpushReply{Error: err.Error()}
	}

	// Pushes are Cloudflare's layout whatever format the files are in.
	popts := s.popts
	popts.LogFormat, popts.JSONFields = "", nil
	parser, err := logparse.New(logparse.FormatCloudflare, popts)
	if err != nil {
		return http.StatusInternalServerError, logpushReply{Error: err.Error()}
	}
	var (
		wg               sync.WaitGroup
		shipped, dropped atomic.Int64
	)
	// Each line is acknowledged once: by its record or by its dead letter.
	enc := newEncoder(s, source, parser, func(_ uint64, topic string, _ int32, _ int64) {
		if topic == s.topics.Requests {
			shipped.Add(1)
		} else {
			dropped.Add(1)
		}
		wg.Done()
	})
	enc.format = string(logparse.FormatCloudflare)

	ctx := r.Context()
	lr := newLineReader(p.lines(), s.cfg.MaxLineBytes)
	var offset int64
	for {
		line, size, truncated, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil { // readPush read it whole already: not expected
			return http.StatusInternalServerError, logpushReply{Error: "read push: " + err.Error()}
		}
		start := offset
		offset += size
		if !truncated && (len(bytes.TrimSpace(line)) == 0 || bytes.Equal(bytes.TrimSpace(line), logpushTest)) {
			continue
		}
		s.read.Add(1)
		s.metrics.linesRead.WithLabelValues(source).Inc()
		wg.Add(1)
		err = enc.ship(ctx, tail.Line{Data: line, Offset: start, End: offset, Truncated: truncated}, 0)
		if err != nil {
			return http.StatusServiceUnavailable, logpushReply{Error: "stopping: " + err.Error()}
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return http.StatusOK, logpushReply{Shipped: shipped.Load(), Rejected: dropped.Load()}
	case <-ctx.Done():
		return http.StatusServiceUnavailable, logpushReply{Error: "Kafka did not acknowledge the push in time; retry"}
	}
}
