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
