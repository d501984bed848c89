package evhttp

import (
	"fmt"
	"log/slog"

	"github.com/panjf2000/gnet/v2"
)

// events is the server's gnet event handler. Its methods run on the event
// loop that owns the connection.
type events struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (e *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := e.s
	c := newConn(s, gc.LocalAddr(), gc.RemoteAddr())
	c.lastActive.Store(s.clock.Load())
	gc.SetContext(c)
	s.mu.Lock()
	s.conns[c] = gc
	s.mu.Unlock()
	s.metrics.conns.Inc()
	return nil, gnet.None
}

func (e *events) OnClose(gc gnet.Conn, _ error) gnet.Action {
	if c, ok := gc.Context().(*conn); ok {
		e.s.mu.Lock()
		delete(e.s.conns, c)
		e.s.mu.Unlock()
		e.s.metrics.conns.Dec()
		e.s.open.Add(-1)
		c.dropBody()
	}
	return gnet.None
}

func (e *events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	if gc.OutboundBuffered() > e.s.maxUnsent {
		e.s.metrics.badRequests.WithLabelValues("unread_answers").Inc()
		return gnet.Close
	}
	in, err := gc.Peek(-1)
	if err != nil {
		return gnet.Close
	}
	used, closeConn := c.process(in)
	if len(c.out.b) > 0 {
		// Written now, or buffered by gnet and sent as the socket takes
		// it; on gnet.Close, sent before the socket closes.
		if _, err := gc.Write(c.out.b); err != nil {
			closeConn = true
		}
		c.out.reset()
	}
	if closeConn {
		return gnet.Close
	}
	if used > 0 {
		// Not with 0: gnet's Discard(0) drops everything buffered.
		_, _ = gc.Discard(used)
	}
	now := e.s.clock.Load()
	c.lastActive.Store(now)
	switch {
	case !c.receiving(gc.InboundBuffered()):
		c.partialSince.Store(0)
	case c.partialSince.Load() == 0:
		c.partialSince.Store(now)
	}
	return gnet.None
}

// gnetLogger sends gnet's messages to the server's log; its start and stop
// notes are debug-level.
type gnetLogger struct{ log *slog.Logger }

func (l gnetLogger) Debugf(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l gnetLogger) Infof(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l gnetLogger) Warnf(f string, a ...any)  { l.log.Warn(fmt.Sprintf(f, a...)) }
func (l gnetLogger) Errorf(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...)) }
func (l gnetLogger) Fatalf(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...)) }

// fastLogger is where fasthttp's RequestCtx.Logger writes.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(f string, a ...any) { l.log.Info(fmt.Sprintf(f, a...)) }
