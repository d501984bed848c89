package evhttp

// Receiving is how many connections hold part of a request, for tests
// that must know the server has seen one.
func (s *Server) Receiving() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.partialSince.Load() != 0 {
			n++
		}
	}
	return n
}

// MaxConns is the connection limit in force.
func (s *Server) MaxConns() int64 { return s.maxConns }

// GuardScan runs a guarded connection's framing over b, read in two parts
// split at split, then closes it: how many bytes came before a refused
// request, and the refusal.
func GuardScan(g *Guard, b []byte, split int) (int, error) {
	c := &guardConn{g: g}
	defer c.release()
	split = min(max(split, 0), len(b))
	ok, err := c.scan(b[:split])
	if err != nil {
		return ok, err
	}
	ok2, err := c.scan(b[split:])
	return split + ok2, err
}
